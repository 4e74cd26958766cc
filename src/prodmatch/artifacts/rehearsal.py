"""The result of ``prodmatch kernel rehearse`` (``--report FILE``): one typed record, written and read here.

:class:`RehearsalReport` is what :func:`prodmatch.kernel.rehearse.rehearse` returns; ``--report`` writes it as
JSON (``format: prodmatch-rehearsal/1``) with :func:`write_rehearsal_report`, and
:func:`read_rehearsal_report` reads it back (bench/bench_kernel_scale.py, later comparisons).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from prodmatch.errors import ArgumentError, MissingInputError
from prodmatch.fileio import write_json

REHEARSAL_FORMAT = "prodmatch-rehearsal/1"


@dataclass
class Stage:
    """One row of the stage table: seconds, and the submit process's peak RSS (and GPU memory) after it."""

    stage: str
    seconds: float
    peak_rss_gb: float | None = None
    peak_gpu_gb: float | None = None


@dataclass
class Projection:
    """The projected Kaggle wall time of the rehearsed run and what it rests on (see kernels/README.md)."""

    projected_s: float
    limit_s: float
    cpu_factor: float
    cpu_factor_source: str
    overhead_s: float
    cpu_seconds_measured: float
    embed_seconds_measured_here: float
    embed_seconds_modelled: float
    gpu_images_per_s: float  # forward passes per second per fold model (a flip-TTA image costs two)
    images_per_s_source: str
    gpu_titles_per_s: float
    gpus: int
    load_s_per_fold: float
    submit_seconds: float
    model: str

    @property
    def within_limit(self) -> bool:
        return self.projected_s <= self.limit_s


@dataclass
class RehearsalReport:
    """What a rehearsal measured and checked (the submission was valid and no network was used, or it raised)."""

    build_id: str
    recipe: str  # the recipe the build ships
    recipe_run: str  # the recipe the kernel ran: text-phash after a GPU fallback
    data_dir: str
    scale: int | None
    n_test: int
    isolation: str
    excluded_packages: list[str]
    network_attempts: int
    prodmatch_file: str
    gpus: list[str]  # the kernel's verdict on each GPU (prodmatch.device), empty for recipes without models
    wall_s: float
    prepare_s: float
    kernel_seconds: dict[str, float]
    stages: list[Stage]
    peak_rss_gb: float
    ram_budget_gb: float
    peak_gpu_gb: float | None
    gpu_budget_gb: float
    projection: Projection
    calibration_s: float | None
    cpu_count: int
    timings: dict
    total_s: float = 0.0
    f1_vs_copied_groups: float | None = None
    workdir: str | None = None
    ok: bool = True

    @property
    def within_ram_budget(self) -> bool:
        return self.peak_rss_gb <= self.ram_budget_gb

    @property
    def within_gpu_budget(self) -> bool | None:
        """None when no GPU memory was measured (no CUDA in the run)."""
        return None if self.peak_gpu_gb is None else self.peak_gpu_gb <= self.gpu_budget_gb

    @property
    def within_budgets(self) -> bool:
        return self.within_ram_budget and self.within_gpu_budget is not False

    @property
    def fell_back(self) -> bool:
        return self.recipe_run != self.recipe

    def as_dict(self) -> dict:
        data = {"format": REHEARSAL_FORMAT, **dataclasses.asdict(self)}
        data.update({"within_ram_budget": self.within_ram_budget, "within_gpu_budget": self.within_gpu_budget})
        data["projection"]["within_limit"] = self.projection.within_limit
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str = "rehearsal report") -> RehearsalReport:
        if data.get("format") != REHEARSAL_FORMAT:
            raise ArgumentError(f"{source}: not a prodmatch rehearsal report (format {data.get('format')!r}, "
                                f"expected {REHEARSAL_FORMAT!r}); rerun `prodmatch kernel rehearse --report`")
        data = dict(data)
        for derived in ("format", "within_ram_budget", "within_gpu_budget"):
            data.pop(derived, None)
        projection = {k: v for k, v in (data.pop("projection", None) or {}).items() if k != "within_limit"}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ArgumentError(f"{source}: unknown key(s) {unknown} in a {REHEARSAL_FORMAT} report")
        try:
            data["stages"] = [Stage(**row) for row in data.get("stages", [])]
            return cls(**data, projection=Projection(**projection))
        except TypeError as exc:
            raise ArgumentError(f"{source}: incomplete rehearsal report ({exc})") from None


def write_rehearsal_report(path: str | Path, report: RehearsalReport) -> None:
    write_json(path, report.as_dict())


def read_rehearsal_report(path: str | Path) -> RehearsalReport:
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"rehearsal report not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArgumentError(f"{path}: not JSON ({exc}); rerun `prodmatch kernel rehearse --report`") from None
    return RehearsalReport.from_dict(data, str(path))
