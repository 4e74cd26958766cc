"""``prodmatch kernel rehearse``: run a built kernel offline, as Kaggle would, and check its submission.

What a rehearsal does (all under a temporary folder, removed afterwards unless ``--keep``):

1. lays out a fake ``kaggle/input/`` -- ``shopee-product-matching/`` linking the files of ``--data-dir`` (or,
   with ``--scale N``, a test.csv of N perturbed copies of the train rows, plus their images when the
   recipe needs images) and ``<dataset slug>/`` linking the built dataset -- and an empty ``kaggle/working/``;
2. creates a fresh virtual environment without prodmatch: its site-packages gets only the network guard
   (``sitecustomize.py``) and a ``.pth`` pointing at a link farm of *this* environment's third-party
   packages (minus prodmatch and its editable hook) -- the analogue of Kaggle's preinstalled stack;
3. runs ``kernel.py`` with that environment's Python in a new network namespace (``unshare -n``; with a
   mount namespace, the input tree and what it links to are read-only as on Kaggle) -- see
   :mod:`prodmatch.kernel.netguard` -- the kernel installs the wheel with ``pip --no-index --no-deps``;
4. validates ``working/submission.csv`` against the test.csv with :func:`prodmatch.artifacts.submission.validate_submission`,
   checks that prodmatch was imported from the fresh environment and that the guard logged no network
   attempt, and reports per-stage seconds and peak RSS (from make_submission's ``--timings-json``) and the
   projected Kaggle run time (:mod:`prodmatch.kernel.projection`), as a
   :class:`prodmatch.artifacts.rehearsal.RehearsalReport`.

This machine has no GPU, so the kernel is told it may embed on the CPU (``PRODMATCH_ALLOW_CPU=1``);
``require_gpu`` applies Kaggle's rule instead: a recipe with models stops, or falls back to text-phash.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from prodmatch.artifacts.rehearsal import RehearsalReport, write_rehearsal_report
from prodmatch.artifacts.submission import SubmissionError
from prodmatch.artifacts.timings import read_timings
from prodmatch.errors import MissingInputError
from prodmatch.kernel.build import MANIFEST_NAME
from prodmatch.kernel.netguard import GUARD_LOG_ENV, isolation_command, write_guard
from prodmatch.kernel.projection import (
    DEFAULT_GPU_IMAGES_PER_S,
    DEFAULT_GPU_TITLES_PER_S,
    DEFAULT_OVERHEAD_S,
    measured_image_rate,
    project_kaggle_seconds,
    resolve_cpu_factor,
    stage_table,
)

EXCLUDED_FROM_STACK = ("prodmatch", "__editable__", "_prodmatch", "sitecustomize", "usercustomize", "__pycache__")


class RehearsalError(RuntimeError):
    """The kernel failed, or its output did not pass the checks (explained in the message): the rehearsal's
    result, not bad input (missing inputs raise :class:`prodmatch.errors.MissingInputError`)."""


@dataclass
class RehearsalOptions:
    build: Path = Path("kernels/build")
    data_dir: Path = Path("../shared/data/shopee")
    scale: int | None = None
    seed: int = 0
    isolation: str = "auto"
    workdir: Path | None = None
    keep: bool = False
    timeout_s: float | None = None
    submit_args: list[str] = field(default_factory=list)
    exclude_packages: list[str] = field(default_factory=list)  # hide these preinstalled packages from the kernel
    ram_budget_gb: float = 12.0
    gpu_budget_gb: float = 14.0
    cpu_factor: float | None = None  # None: from --kaggle-report when given, else DEFAULT_CPU_FACTOR
    kaggle_report: Path | None = None
    gpu_images_per_s: float = DEFAULT_GPU_IMAGES_PER_S
    gpu_titles_per_s: float = DEFAULT_GPU_TITLES_PER_S
    gpu_check: Path | None = None  # bench/gpu_check.py --json: its measured image rate replaces gpu_images_per_s
    gpus: int = 1  # devices the projection deals fold models over
    require_gpu: bool = False  # apply the kernel's Kaggle GPU rule (stop or fall back) instead of embedding on CPU
    overhead_s: float = DEFAULT_OVERHEAD_S
    report: Path | None = None
    echo: bool = True  # stream the kernel's output


# ------------------------------------------------------------------------------------------ input tree
def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(Path(source).resolve(), target)


def layout_inputs(root: Path, build: Path, data_dir: Path, manifest: dict, scale: int | None, seed: int) -> dict:
    """Fake /kaggle/{input,working,src} under ``root``; returns paths and, with scale, the test labels."""
    input_dir, working, src = root / "kaggle" / "input", root / "kaggle" / "working", root / "kaggle" / "src"
    competition = input_dir / manifest.get("competition", "shopee-product-matching")
    dataset_slug = manifest["dataset_id"].split("/", 1)[1]
    for folder in (competition, working, src):
        folder.mkdir(parents=True)
    _link(build / "dataset", input_dir / dataset_slug)
    shutil.copy2(build / "kernel" / "kernel.py", src / "kernel.py")
    data_dir = Path(data_dir)
    info = {"input": input_dir, "working": working, "competition": competition, "script": src / "kernel.py",
            "labels": None}
    if scale is None:
        for name in ("train.csv", "test.csv", "sample_submission.csv", "train_images", "test_images"):
            if (data_dir / name).exists():
                _link(data_dir / name, competition / name)
        if not (data_dir / "sample_submission.csv").is_file():
            write_sample_submission(data_dir / "test.csv", competition / "sample_submission.csv")
        return info

    import pandas as pd

    from prodmatch.data import DataDir
    from prodmatch.demo.scaled import scaled_postings, write_scaled_images

    data = DataDir.of(data_dir)
    train = data.read_train()
    postings = scaled_postings(train, scale, seed=seed)
    postings["posting_id"] = [f"rehearse_{i}" for i in range(len(postings))]
    postings.drop(columns=["label_group", "source_row"]).to_csv(competition / "test.csv", index=False)
    pd.DataFrame({"posting_id": postings["posting_id"], "matches": postings["posting_id"]}).to_csv(
        competition / "sample_submission.csv", index=False)
    _link(data.train_csv, competition / "train.csv")
    if data.train_images.is_dir():
        _link(data.train_images, competition / "train_images")
    if manifest.get("needs_images"):
        info["images_written"] = write_scaled_images(postings, data.train_images, competition / "test_images", seed)
    else:
        (competition / "test_images").mkdir()
    info["labels"] = (postings["posting_id"].to_numpy(), postings["label_group"].to_numpy())
    return info


def write_sample_submission(test_csv: Path, out: Path) -> None:
    from prodmatch.data import read_test

    test = read_test(test_csv)
    test.assign(matches=test["posting_id"])[["posting_id", "matches"]].to_csv(out, index=False)


# ---------------------------------------------------------------------------------------- environment
def current_site_dirs() -> list[Path]:
    paths = sysconfig.get_paths()
    dirs = []
    for key in ("purelib", "platlib"):
        path = Path(paths[key])
        if path.is_dir() and path not in dirs:
            dirs.append(path)
    return dirs


def _normalise(name: str) -> str:
    return name.lower().replace("-", "_")


def make_stack_farm(farm: Path, exclude: list[str] | tuple[str, ...] = ()) -> int:
    """Links to every third-party package of this environment except prodmatch (and any .pth hooks) and
    the ``exclude`` packages (prefixes of top-level names, e.g. "faiss" drops faiss/ and faiss_cpu-*.dist-info:
    to rehearse on an image that lacks them)."""
    farm.mkdir(parents=True)
    linked = 0
    hidden = tuple(_normalise(e) for e in exclude)
    for site_dir in current_site_dirs():
        for entry in sorted(site_dir.iterdir()):
            name = entry.name
            if name.startswith(EXCLUDED_FROM_STACK) or name.endswith(".pth") or (farm / name).exists():
                continue
            if hidden and _normalise(name).startswith(hidden):
                continue
            os.symlink(entry, farm / name)
            linked += 1
    return linked


def make_fresh_env(root: Path, exclude: list[str] | tuple[str, ...] = ()) -> dict:
    """A new venv (no pip, no prodmatch) whose site-packages holds the network guard and the stack .pth."""
    env_dir = root / "env"
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    done = subprocess.run([base_python, "-m", "venv", "--without-pip", str(env_dir)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RehearsalError(f"creating the rehearsal venv failed:\n{done.stderr[-2000:]}")
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    site_dir = Path(site)
    site_dir.mkdir(parents=True, exist_ok=True)
    farm = root / "preinstalled"
    n_linked = make_stack_farm(farm, exclude)
    (site_dir / "zz-prodmatch-rehearsal-stack.pth").write_text(str(farm) + "\n", encoding="utf-8")
    write_guard(site_dir)
    return {"python": python, "env_dir": env_dir, "site_dir": site_dir, "stack": farm, "stack_entries": n_linked}


def kernel_environment(info: dict, fresh: dict, root: Path, submit_args: list[str], ro_paths: list[Path],
                       require_gpu: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "CONDA_", "KAGGLE_", "PRODMATCH_"))}
    env.update({
        "PATH": f"{fresh['env_dir'] / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "VIRTUAL_ENV": str(fresh["env_dir"]),
        "KAGGLE_INPUT_DIR": str(info["input"]), "KAGGLE_WORKING_DIR": str(info["working"]),
        "PYTHONNOUSERSITE": "1", "PYTHONUNBUFFERED": "1",
        "TMPDIR": str(root / "tmp"), "HOME": str(root / "home"),
        GUARD_LOG_ENV: str(root / "netguard.log"),
        "PRODMATCH_RO_PATHS": "\n".join(str(p) for p in ro_paths),
        "PRODMATCH_REHEARSAL": "1",
    })
    if not require_gpu:
        env["PRODMATCH_ALLOW_CPU"] = "1"  # this machine has no GPU: embed on the CPU, which Kaggle's run must not
    if submit_args:
        env["PRODMATCH_SUBMIT_ARGS"] = " ".join(submit_args)
    (root / "tmp").mkdir(exist_ok=True)
    (root / "home").mkdir(exist_ok=True)
    return env


def run_kernel(command: list[str], env: dict, cwd: Path, log_path: Path, timeout_s: float | None,
               echo: bool) -> tuple[int, float]:
    """Run the kernel in its own process group, teeing its output to ``log_path``; (exit code, wall seconds)."""
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, errors="replace", start_new_session=True)
        deadline = None if timeout_s is None else started + timeout_s
        try:
            for line in process.stdout:
                log.write(line)
                if echo:
                    sys.stdout.write("  | " + line)
                    sys.stdout.flush()
                if deadline is not None and time.perf_counter() > deadline:
                    raise subprocess.TimeoutExpired(command, timeout_s)
            code = process.wait(timeout=None if deadline is None else max(1.0, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise RehearsalError(f"the kernel ran past the {timeout_s:.0f}s timeout (log: {log_path})") from None
    return code, time.perf_counter() - started


# ---------------------------------------------------------------------------------------------- rehearse
def check_inputs(options: RehearsalOptions) -> tuple[Path, dict, Path]:
    """(build folder, manifest, data folder), or a MissingInputError naming what is missing -- before any work."""
    build = Path(options.build).resolve()
    manifest_path = build / "dataset" / MANIFEST_NAME
    if not manifest_path.is_file() or not (build / "kernel" / "kernel.py").is_file():
        raise MissingInputError(f"{options.build} is not a kernel build (no dataset/{MANIFEST_NAME} or "
                                f"kernel/kernel.py): run `prodmatch kernel build --out {options.build}` first")
    data_dir = Path(options.data_dir).resolve()
    needed = "train.csv" if options.scale else "test.csv"
    if not (data_dir / needed).is_file():
        why = "--scale builds the test set from train.csv" if options.scale else "the kernel matches test.csv"
        raise MissingInputError(f"{options.data_dir} has no {needed} ({why}); pass --data-dir of a Kaggle-layout "
                                "folder")
    for flag, path in (("--kaggle-report", options.kaggle_report), ("--gpu-check", options.gpu_check)):
        if path is not None and not Path(path).is_file():
            raise MissingInputError(f"{flag} {path}: file not found")
    if options.gpu_check is not None:
        measured_image_rate(options.gpu_check)  # refuse a useless file now, not after the run
    with open(manifest_path, encoding="utf-8") as handle:
        return build, json.load(handle), data_dir


def rehearse(options: RehearsalOptions) -> RehearsalReport:
    from prodmatch.artifacts.submission import validate_submission
    from prodmatch.data import read_test

    build, manifest, data_dir = check_inputs(options)
    method, prefix = isolation_command(options.isolation)
    if options.workdir is not None:
        Path(options.workdir).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="prodmatch-rehearse-", dir=options.workdir))
    started = time.perf_counter()
    try:
        prepare_started = time.perf_counter()
        info = layout_inputs(root, build, data_dir, manifest, options.scale, options.seed)
        fresh = make_fresh_env(root, options.exclude_packages)
        prepare_s = time.perf_counter() - prepare_started
        ro_paths = sorted({info["input"], (build / "dataset").resolve(), data_dir}, key=str) \
            if method == "netns+ro" else []
        env = kernel_environment(info, fresh, root, options.submit_args, ro_paths, options.require_gpu)
        command = prefix + [str(fresh["python"]), str(info["script"])]
        print(f"rehearsal in {root}: isolation {method}; fresh env {fresh['env_dir']} "
              f"({fresh['stack_entries']} preinstalled entries linked); running kernel.py", flush=True)
        code, wall_s = run_kernel(command, env, info["working"], root / "kernel.log", options.timeout_s, options.echo)
        log_tail = (root / "kernel.log").read_text(encoding="utf-8", errors="replace")[-4000:]
        if code != 0:
            raise RehearsalError(f"kernel.py exited with code {code}; last output:\n{log_tail}")
        result = check_outputs(info, fresh, root, manifest, log_tail, validate_submission, read_test)
        report = build_report(options, manifest, data_dir, method, result, wall_s, prepare_s)
        if info["labels"] is not None:
            report.f1_vs_copied_groups = score_against_labels(info["working"] / "submission.csv", *info["labels"])
        report.total_s = round(time.perf_counter() - started, 2)
        if options.keep:
            report.workdir = str(root)
        if options.report:
            write_rehearsal_report(options.report, report)
        return report
    finally:
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)


def build_report(options: RehearsalOptions, manifest: dict, data_dir: Path, method: str, result: dict,
                 wall_s: float, prepare_s: float) -> RehearsalReport:
    timings, kernel_report = result["timings"], result["kernel_report"]
    n_test = timings.n_test or result["submission_rows"]
    recipe_run = kernel_report.get("recipe_run") or manifest["recipe"]
    embedded_runs = manifest.get("runs", {}) if recipe_run == manifest["recipe"] else {}
    cpu_factor, factor_source = resolve_cpu_factor(options.cpu_factor, options.kaggle_report, kernel_report)
    images_per_s, rate_source = ((options.gpu_images_per_s, "assumed (--gpu-images-per-s)")
                                 if options.gpu_check is None else measured_image_rate(options.gpu_check))
    projection = project_kaggle_seconds(timings, kernel_report, embedded_runs, n_test, cpu_factor, factor_source,
                                        images_per_s, rate_source, options.gpu_titles_per_s, options.overhead_s,
                                        options.gpus)
    gpu_peaks = list(timings.peak_gpu_gb.values())
    return RehearsalReport(
        build_id=manifest["build_id"], recipe=manifest["recipe"], recipe_run=recipe_run, data_dir=str(data_dir),
        scale=options.scale, n_test=n_test, isolation=method, excluded_packages=list(options.exclude_packages),
        network_attempts=result["network_attempts"], prodmatch_file=kernel_report["prodmatch_file"],
        gpus=list(kernel_report.get("gpus") or []), wall_s=round(wall_s, 2), prepare_s=round(prepare_s, 2),
        kernel_seconds=kernel_report["seconds"], stages=stage_table(timings, kernel_report),
        peak_rss_gb=round(max([*timings.peak_rss_gb.values(), kernel_report["children_peak_rss_gb"]]), 3),
        ram_budget_gb=options.ram_budget_gb, peak_gpu_gb=max(gpu_peaks) if gpu_peaks else None,
        gpu_budget_gb=options.gpu_budget_gb, projection=projection, calibration_s=kernel_report.get("calibration_s"),
        cpu_count=os.cpu_count() or 1, timings=timings.as_dict())


def check_outputs(info, fresh, root, manifest, log_tail, validate_submission, read_test) -> dict:
    working = info["working"]
    submission = working / "submission.csv"
    if not submission.is_file():
        raise RehearsalError(f"kernel.py exited 0 but wrote no {submission}; last output:\n{log_tail}")
    test = read_test(info["competition"] / "test.csv")
    try:
        validate_submission(submission, test)
    except SubmissionError as exc:  # the kernel's output, not the user's input, is wrong here
        raise RehearsalError(f"the kernel wrote an invalid submission: {exc}") from None
    report_path, timings_path = working / "prodmatch_kernel_report.json", working / "prodmatch_timings.json"
    for path in (report_path, timings_path):
        if not path.is_file():
            raise RehearsalError(f"kernel.py did not write {path.name}")
    kernel_report = json.loads(report_path.read_text(encoding="utf-8"))
    timings = read_timings(timings_path)
    installed_in = Path(kernel_report["prodmatch_file"]).resolve()
    if fresh["env_dir"].resolve() not in installed_in.parents and root.resolve() not in installed_in.parents:
        raise RehearsalError(f"the kernel imported prodmatch from {installed_in}, not from the wheel it installed "
                             f"into {fresh['env_dir']}")
    if kernel_report["build_id"] != manifest["build_id"]:
        raise RehearsalError(f"kernel.py is build {kernel_report['build_id']}, the dataset {manifest['build_id']}")
    guard_log = root / "netguard.log"
    guard_text = guard_log.read_text(encoding="utf-8") if guard_log.is_file() else ""
    attempts = sum(1 for line in guard_text.splitlines() if line.startswith("pid "))
    if attempts:
        raise RehearsalError(f"the kernel tried to use the network {attempts} time(s):\n"
                             f"{guard_text[-3000:]}")
    return {"submission_rows": len(test), "network_attempts": attempts, "timings": timings,
            "kernel_report": kernel_report}


def score_against_labels(submission: Path, posting_ids, label_groups) -> float:
    import pandas as pd

    from prodmatch.metrics import score_match_lists, truth_from_labels

    frame = pd.read_csv(submission, dtype=str, keep_default_na=False)
    predictions = dict(zip(frame["posting_id"], frame["matches"]))
    return round(score_match_lists(predictions, truth_from_labels(posting_ids, label_groups)).f1, 4)
