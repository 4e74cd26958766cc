"""The timings of a submission run (``make_submission.py --timings-json``), which kernel rehearsals read.

    {"n_test": 70000, "recipe": "text-phash",
     "seconds": {"tune_cv": .., "embed": .., "match": .., "write+validate": ..},   # in the order they ran
     "search_seconds": {"tfidf": .., "phash": ..},     # per source, part of the "match" stage
     "peak_rss_gb_after_stage": {...}, "peak_gpu_gb_after_stage": {...}, "total_seconds": ..}

:class:`StageTimings` is both the timer (``with timings.stage("embed"): ...``) and this record.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from prodmatch.fileio import write_json

TUNE_STAGE = "tune_cv"
EMBED_STAGE = "embed"
MATCH_STAGE = "match"  # includes every source's search (search_seconds)
WRITE_STAGE = "write+validate"


@dataclass
class StageTimings:
    n_test: int = 0
    recipe: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    search_seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_gb: dict[str, float] = field(default_factory=dict)
    peak_gpu_gb: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter, repr=False)

    @contextlib.contextmanager
    def stage(self, name: str):
        """Time the block as stage ``name`` and record the process's peak memory after it."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - started
            self.peak_rss_gb[name] = peak_rss_so_far_gb()
            gpu = peak_gpu_so_far_gb()
            if gpu is not None:
                self.peak_gpu_gb[name] = gpu

    def finish(self) -> StageTimings:
        self.total_seconds = time.perf_counter() - self.started
        return self

    def summary(self) -> str:
        """``tune_cv 1.2, embed 0.0, match 3.4, tfidf 2.1, phash 0.3, ..., total 5.0``."""
        parts = {**self.seconds, **self.search_seconds}
        return ", ".join(f"{k} {v:.1f}" for k, v in parts.items()) + f", total {self.total_seconds:.1f}"

    def as_dict(self) -> dict:
        return {"n_test": self.n_test, "recipe": self.recipe,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "search_seconds": {k: round(v, 3) for k, v in self.search_seconds.items()},
                "peak_rss_gb_after_stage": self.peak_rss_gb, "peak_gpu_gb_after_stage": self.peak_gpu_gb,
                "total_seconds": round(self.total_seconds, 3)}

    @classmethod
    def from_dict(cls, data: dict) -> StageTimings:
        return cls(int(data.get("n_test", 0)), str(data.get("recipe", "")), dict(data.get("seconds", {})),
                   dict(data.get("search_seconds", {})), dict(data.get("peak_rss_gb_after_stage", {})),
                   dict(data.get("peak_gpu_gb_after_stage", {})), float(data.get("total_seconds", 0.0)))


def write_timings(path: str | Path, timings: StageTimings) -> None:
    write_json(path, timings.as_dict())


def read_timings(path: str | Path) -> StageTimings:
    return StageTimings.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def peak_rss_so_far_gb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3)


def peak_gpu_so_far_gb() -> float | None:
    """Peak GPU memory torch has reserved so far, when torch already runs on a GPU (cuML/CuPy not counted)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    reserved = max(torch.cuda.max_memory_reserved(d) for d in range(torch.cuda.device_count()))
    return round(reserved / 1024**3, 3)
