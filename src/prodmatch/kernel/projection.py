"""What a CPU rehearsal says about the Kaggle run: the stage table and the projected Kaggle wall time.

``projected = overhead_s + cpu_factor * (kernel wall - embed) + embed_model``. Everything the rehearsal measured
except the embed stage is CPU work on Kaggle too, scaled by ``cpu_factor``; the embed stage is GPU work on
Kaggle and is modelled instead: each fold model costs ``load_s`` plus, for an image run, ``n_test * passes /
images_per_s`` (``passes`` = 2 with flip TTA: every image goes through the model twice) and, for a text run,
``n_test / titles_per_s``. Fold models are dealt round-robin over ``gpus`` devices as
:func:`prodmatch.embed.load_runs` deals them, and the busiest device sets the time. ``images_per_s`` is
assumed (``DEFAULT_GPU_IMAGES_PER_S``) unless bench/gpu_check.py measured it (``--gpu-check FILE``).
"""

from __future__ import annotations

import json
from pathlib import Path

from prodmatch.artifacts.rehearsal import Projection, RehearsalReport, Stage
from prodmatch.artifacts.timings import EMBED_STAGE, MATCH_STAGE, StageTimings
from prodmatch.errors import ArgumentError, MissingInputError

KAGGLE_LIMIT_S = 2 * 3600
#: Rehearsal CPU seconds x this = Kaggle CPU seconds, unless measured (``--kaggle-report``). Kaggle's GPU
#: sessions ran the Shopee kernels on 2 vCPUs (one hyper-threaded core) of a ~2.0-2.3 GHz Xeon; this
#: machine's cores are faster per thread. 2.0 is a deliberately pessimistic guess, not a measurement.
DEFAULT_CPU_FACTOR = 2.0
#: Assumed Kaggle GPU forward passes per second per fold model (T4, fp16, JPEG decoding on 2 CPU workers): the
#: embed stage cannot be projected from a CPU rehearsal. A flip-TTA image costs two passes.
DEFAULT_GPU_IMAGES_PER_S = 150.0
DEFAULT_GPU_TITLES_PER_S = 2000.0
#: Loading one fold model from /kaggle/input onto the GPU (modelled, like the embedding itself).
DEFAULT_LOAD_S_PER_FOLD = 10.0
#: Kaggle-side time not seen by a rehearsal: container start, mounting inputs, saving outputs.
DEFAULT_OVERHEAD_S = 120.0


def measured_image_rate(gpu_check_json: str | Path) -> tuple[float, str]:
    """(forward passes per second per fold model, where it comes from) out of ``bench/gpu_check.py --json``."""
    path = Path(gpu_check_json)
    if not path.is_file():
        raise MissingInputError(f"--gpu-check {path}: file not found (write it with bench/gpu_check.py --json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        embedding = data["embedding"]
        rate = float(embedding["forward_passes_per_s"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ArgumentError(f"--gpu-check {path}: no measured embedding rate in it ({exc!r}); write it with "
                            "bench/gpu_check.py --json on a GPU") from None
    if data.get("sizes") != "full" or rate <= 0:
        raise ArgumentError(f"--gpu-check {path}: a --tiny or CPU run ({data.get('device')}) measures nothing "
                            "about Kaggle's GPU; run bench/gpu_check.py on the GPU without --tiny")
    return rate, (f"measured by bench/gpu_check.py on {embedding.get('gpu', data.get('device'))} "
                  f"({embedding.get('image_px')} px, {path.name})")


def embed_seconds(runs: dict, n_test: int, images_per_s: float, titles_per_s: float, gpus: int,
                  load_s: float = DEFAULT_LOAD_S_PER_FOLD) -> float:
    """Modelled embed stage: fold models dealt round-robin over ``gpus`` devices, the busiest one's seconds."""
    busy = [0.0] * max(1, gpus)
    position = 0
    for run in runs.values():
        if run.get("model") == "image":
            per_fold = n_test * (2 if run.get("tta") else 1) / images_per_s
        else:
            per_fold = n_test / titles_per_s
        for _ in run["folds"]:
            busy[position % len(busy)] += load_s + per_fold
            position += 1
    return max(busy)


def project_kaggle_seconds(timings: StageTimings, kernel_report: dict, runs: dict, n_test: int, cpu_factor: float,
                           cpu_factor_source: str, images_per_s: float, images_per_s_source: str,
                           titles_per_s: float, overhead_s: float, gpus: int = 1) -> Projection:
    """Projected Kaggle wall time of the same run (module docstring). ``runs``: the manifest's runs that the
    kernel embedded with (none after a text-phash fallback)."""
    total_s = float(kernel_report["seconds"]["total"])
    embed_measured = float(timings.seconds.get(EMBED_STAGE, 0.0))
    cpu_s = max(0.0, total_s - embed_measured)
    embed_model = embed_seconds(runs, n_test, images_per_s, titles_per_s, gpus)
    return Projection(
        projected_s=round(overhead_s + cpu_factor * cpu_s + embed_model, 1), limit_s=KAGGLE_LIMIT_S,
        cpu_factor=cpu_factor, cpu_factor_source=cpu_factor_source, overhead_s=overhead_s,
        cpu_seconds_measured=round(cpu_s, 2), embed_seconds_measured_here=round(embed_measured, 2),
        embed_seconds_modelled=round(embed_model, 2), gpu_images_per_s=images_per_s,
        images_per_s_source=images_per_s_source, gpu_titles_per_s=titles_per_s, gpus=gpus,
        load_s_per_fold=DEFAULT_LOAD_S_PER_FOLD, submit_seconds=round(float(kernel_report["seconds"]["submit"]), 2),
        model=("overhead_s + cpu_factor * (kernel wall - embed) + busiest GPU's sum over its fold models of "
               "(load_s + n_test * passes / rate)"))


def resolve_cpu_factor(cpu_factor: float | None, kaggle_report: Path | None, kernel_report: dict) -> tuple[float, str]:
    if cpu_factor is not None:
        return float(cpu_factor), "given (--cpu-factor)"
    if kaggle_report is not None:
        kaggle = json.loads(Path(kaggle_report).read_text(encoding="utf-8"))
        local = kernel_report.get("calibration_s")
        if kaggle.get("calibration_s") and local:
            factor = float(kaggle["calibration_s"]) / float(local)
            return round(factor, 3), (f"measured: calibration {kaggle['calibration_s']}s on Kaggle "
                                      f"({kaggle_report}) / {local}s here")
    return DEFAULT_CPU_FACTOR, "default assumption (Kaggle 2-vCPU Xeon ~2x slower per thread than this machine)"


def stage_table(timings: StageTimings, kernel_report: dict) -> list[Stage]:
    """Per-stage seconds (in the order the stages ran) and the submit process's peak RSS after each stage; the
    match stage is split into each source's search and the matching itself."""
    rows = [Stage("install (pip --no-index)", kernel_report["seconds"]["install"])]
    for stage, seconds in timings.seconds.items():
        peaks = {"peak_rss_gb": timings.peak_rss_gb.get(stage), "peak_gpu_gb": timings.peak_gpu_gb.get(stage)}
        if stage != MATCH_STAGE:
            rows.append(Stage(stage, seconds, **peaks))
            continue
        rows.extend(Stage(f"search: {name}", value) for name, value in timings.search_seconds.items())
        rows.append(Stage("matching (policy, lists)", round(seconds - sum(timings.search_seconds.values()), 3),
                          **peaks))
    staged = sum(timings.seconds.values())
    rows.append(Stage("startup, imports, reading", round(max(0.0, kernel_report["seconds"]["submit"] - staged), 3)))
    return rows


def format_report(report: RehearsalReport) -> str:
    ran = report.recipe if not report.fell_back else f"{report.recipe_run} (GPU fallback from {report.recipe})"
    lines = [f"rehearsal OK: recipe {ran}, {report.n_test} test postings, isolation {report.isolation}, "
             f"{report.network_attempts} network attempts, prodmatch from {report.prodmatch_file}"]
    lines += [f"kernel's {line}" for line in report.gpus[:4]]
    lines.append(f"{'stage':<28} {'seconds':>9} {'peak RSS GB (so far)':>21}")
    for row in report.stages:
        peak = "" if row.peak_rss_gb is None else f"{row.peak_rss_gb:.2f}"
        lines.append(f"{row.stage:<28} {row.seconds:>9.2f} {peak:>21}")
    lines.append(f"{'kernel total (incl. install)':<28} {report.kernel_seconds['total']:>9.2f}")
    lines.append(f"wall {report.wall_s:.1f}s (plus {report.prepare_s:.1f}s preparing the inputs/env)")
    gpu = ("not measured (no CUDA in this run)" if report.peak_gpu_gb is None else
           f"{report.peak_gpu_gb:.2f} GB vs {report.gpu_budget_gb:.1f} GB: "
           f"{'within' if report.within_gpu_budget else 'OVER'}")
    lines.append(f"peak RSS {report.peak_rss_gb:.2f} GB vs budget {report.ram_budget_gb:.1f} GB: "
                 f"{'within' if report.within_ram_budget else 'OVER'}; GPU peak {gpu}")
    p = report.projection
    embedding = (f"{p.embed_seconds_modelled:.0f}s modelled embedding on {p.gpus} GPU(s), images at "
                 f"{p.gpu_images_per_s:g} passes/s {p.images_per_s_source}" if p.embed_seconds_modelled else
                 "no embedding")
    lines.append(f"projected Kaggle run: {p.projected_s:.0f}s = {p.overhead_s:.0f}s overhead + {p.cpu_factor} x "
                 f"{p.cpu_seconds_measured:.1f}s CPU + {embedding} (CPU factor: {p.cpu_factor_source}); "
                 f"limit {p.limit_s}s: {'within' if p.within_limit else 'OVER'}")
    if report.f1_vs_copied_groups is not None:
        lines.append(f"F1 vs the copied label groups: {report.f1_vs_copied_groups:.4f}")
    return "\n".join(lines)
