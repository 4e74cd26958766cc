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
   projected Kaggle run time (:func:`project_kaggle_seconds`).
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

from prodmatch.artifacts.timings import EMBED_STAGE, MATCH_STAGE, StageTimings, read_timings
from prodmatch.fileio import write_json
from prodmatch.kernel.build import MANIFEST_NAME
from prodmatch.kernel.netguard import GUARD_LOG_ENV, isolation_command, write_guard

KAGGLE_LIMIT_S = 2 * 3600
#: Rehearsal CPU seconds x this = Kaggle CPU seconds, unless measured (``--kaggle-report``). Kaggle's GPU
#: sessions ran the Shopee kernels on 2 vCPUs (one hyper-threaded core) of a ~2.0-2.3 GHz Xeon; this
#: machine's cores are faster per thread. 2.0 is a deliberately pessimistic guess, not a measurement.
DEFAULT_CPU_FACTOR = 2.0
#: Assumed Kaggle GPU throughput per fold model (T4/P100, fp16, JPEG decoding on 2 CPU workers): the
#: embed stage cannot be projected from a CPU rehearsal, so it is modelled as postings x folds / rate.
DEFAULT_GPU_IMAGES_PER_S = 150.0
DEFAULT_GPU_TITLES_PER_S = 2000.0
#: Loading one fold model from /kaggle/input onto the GPU (modelled, like the embedding itself).
DEFAULT_LOAD_S_PER_FOLD = 10.0
#: Kaggle-side time not seen by a rehearsal: container start, mounting inputs, saving outputs.
DEFAULT_OVERHEAD_S = 120.0
EXCLUDED_FROM_STACK = ("prodmatch", "__editable__", "_prodmatch", "sitecustomize", "usercustomize", "__pycache__")


class RehearsalError(RuntimeError):
    """The kernel failed, or its output did not pass the checks (explained in the message)."""


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


def kernel_environment(info: dict, fresh: dict, root: Path, submit_args: list[str], ro_paths: list[Path]) -> dict:
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


# ----------------------------------------------------------------------------------------- projection
def project_kaggle_seconds(timings: StageTimings, kernel_report: dict, manifest: dict, n_test: int, cpu_factor: float,
                           images_per_s: float, titles_per_s: float, overhead_s: float) -> dict:
    """Projected Kaggle wall time of the same run.

    ``projected = overhead_s + cpu_factor * cpu_seconds + embed_model``, where ``cpu_seconds`` is everything
    the rehearsal measured except the embed stage (install, imports/reading, tune_cv, search, matching,
    writing), and the embed stage -- GPU work on Kaggle, not comparable with a CPU rehearsal -- is modelled
    as ``folds * (load_s + n_test / rate)`` per run (image runs at ``images_per_s``, text runs at ``titles_per_s``).
    """
    submit_s = float(kernel_report["seconds"]["submit"])
    total_s = float(kernel_report["seconds"]["total"])
    embed_measured = float(timings.seconds.get(EMBED_STAGE, 0.0))
    cpu_s = max(0.0, total_s - embed_measured)
    embed_model = 0.0
    for run in manifest.get("runs", {}).values():
        rate = images_per_s if run.get("model") == "image" else titles_per_s
        embed_model += len(run["folds"]) * (DEFAULT_LOAD_S_PER_FOLD + n_test / rate)
    projected = overhead_s + cpu_factor * cpu_s + embed_model
    return {
        "model": ("overhead_s + cpu_factor * (kernel wall - embed) "
                  "+ sum over runs of folds * (load_s + n_test / GPU rate)"),
        "load_s_per_fold": DEFAULT_LOAD_S_PER_FOLD,
        "cpu_factor": cpu_factor, "overhead_s": overhead_s, "cpu_seconds_measured": round(cpu_s, 2),
        "embed_seconds_measured_here": round(embed_measured, 2), "embed_seconds_modelled": round(embed_model, 2),
        "gpu_images_per_s": images_per_s, "gpu_titles_per_s": titles_per_s, "submit_seconds": round(submit_s, 2),
        "projected_s": round(projected, 1), "limit_s": KAGGLE_LIMIT_S,
        "within_limit": projected <= KAGGLE_LIMIT_S,
    }


def stage_table(timings: StageTimings, kernel_report: dict) -> list[dict]:
    """Per-stage seconds (in the order the stages ran) and the submit process's peak RSS after each stage; the
    match stage is split into each source's search and the matching itself."""
    rows = [{"stage": "install (pip --no-index)", "seconds": kernel_report["seconds"]["install"], "peak_rss_gb": None}]
    for stage, seconds in timings.seconds.items():
        peaks = {"peak_rss_gb": timings.peak_rss_gb.get(stage), "peak_gpu_gb": timings.peak_gpu_gb.get(stage)}
        if stage != MATCH_STAGE:
            rows.append({"stage": stage, "seconds": seconds, **peaks})
            continue
        for name, value in timings.search_seconds.items():
            rows.append({"stage": f"search: {name}", "seconds": value, "peak_rss_gb": None})
        rows.append({"stage": "matching (policy, lists)",
                     "seconds": round(seconds - sum(timings.search_seconds.values()), 3), **peaks})
    staged = sum(timings.seconds.values())
    rows.append({"stage": "startup, imports, reading", "seconds": round(max(0.0, kernel_report["seconds"]["submit"]
                                                                            - staged), 3), "peak_rss_gb": None})
    return rows


# ---------------------------------------------------------------------------------------------- rehearse
def rehearse(options: RehearsalOptions) -> dict:
    from prodmatch.data import read_test
    from prodmatch.artifacts.submission import validate_submission

    build = Path(options.build).resolve()
    manifest_path = build / "dataset" / MANIFEST_NAME
    if not manifest_path.is_file() or not (build / "kernel" / "kernel.py").is_file():
        raise RehearsalError(f"{build} is not a kernel build (run `prodmatch kernel build --out {options.build}`)")
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    data_dir = Path(options.data_dir).resolve()
    if options.scale and not (data_dir / "train.csv").is_file():
        raise RehearsalError(f"--scale builds the test set from train.csv, and {data_dir} has none")
    if not options.scale and not (data_dir / "test.csv").is_file():
        raise RehearsalError(f"{data_dir} has no test.csv")
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
        env = kernel_environment(info, fresh, root, options.submit_args, ro_paths)
        command = prefix + [str(fresh["python"]), str(info["script"])]
        print(f"rehearsal in {root}: isolation {method}; fresh env {fresh['env_dir']} "
              f"({fresh['stack_entries']} preinstalled entries linked); running kernel.py", flush=True)
        code, wall_s = run_kernel(command, env, info["working"], root / "kernel.log", options.timeout_s, options.echo)
        log_tail = (root / "kernel.log").read_text(encoding="utf-8", errors="replace")[-4000:]
        if code != 0:
            raise RehearsalError(f"kernel.py exited with code {code}; last output:\n{log_tail}")
        result = check_outputs(info, fresh, root, manifest, log_tail, validate_submission, read_test)
        timings = result.pop("_timings")
        kernel_report = result.pop("_kernel_report")
        n_test = timings.n_test or result["submission_rows"]
        cpu_factor, factor_source = resolve_cpu_factor(options, kernel_report)
        projection = project_kaggle_seconds(timings, kernel_report, manifest, n_test, cpu_factor,
                                            options.gpu_images_per_s, options.gpu_titles_per_s, options.overhead_s)
        projection["cpu_factor_source"] = factor_source
        peak_rss = max([*timings.peak_rss_gb.values(), kernel_report["children_peak_rss_gb"]])
        gpu_peaks = list(timings.peak_gpu_gb.values())
        peak_gpu = max(gpu_peaks) if gpu_peaks else None
        report = {
            "ok": True, "build_id": manifest["build_id"], "recipe": manifest["recipe"], "data_dir": str(data_dir),
            "scale": options.scale, "n_test": n_test, "isolation": method,
            "excluded_packages": list(options.exclude_packages),
            "network_attempts": result["network_attempts"], "prodmatch_file": kernel_report["prodmatch_file"],
            "wall_s": round(wall_s, 2), "prepare_s": round(prepare_s, 2),
            "kernel_seconds": kernel_report["seconds"], "stages": stage_table(timings, kernel_report),
            "peak_rss_gb": round(peak_rss, 3),
            "ram_budget_gb": options.ram_budget_gb, "within_ram_budget": peak_rss <= options.ram_budget_gb,
            "peak_gpu_gb": peak_gpu, "gpu_budget_gb": options.gpu_budget_gb,
            "within_gpu_budget": None if peak_gpu is None else peak_gpu <= options.gpu_budget_gb,
            "projection": projection, "calibration_s": kernel_report.get("calibration_s"),
            "cpu_count": os.cpu_count(), "timings": timings.as_dict(),
        }
        if info["labels"] is not None:
            report["f1_vs_copied_groups"] = score_against_labels(info["working"] / "submission.csv", *info["labels"])
        report["total_s"] = round(time.perf_counter() - started, 2)
        if options.keep:
            report["workdir"] = str(root)
        if options.report:
            write_json(options.report, report)
        return report
    finally:
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)


def check_outputs(info, fresh, root, manifest, log_tail, validate_submission, read_test) -> dict:
    working = info["working"]
    submission = working / "submission.csv"
    if not submission.is_file():
        raise RehearsalError(f"kernel.py exited 0 but wrote no {submission}; last output:\n{log_tail}")
    test = read_test(info["competition"] / "test.csv")
    validate_submission(submission, test)
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
    return {"submission_rows": len(test), "network_attempts": attempts, "_timings": timings,
            "_kernel_report": kernel_report}


def resolve_cpu_factor(options: RehearsalOptions, kernel_report: dict) -> tuple[float, str]:
    if options.cpu_factor is not None:
        return float(options.cpu_factor), "given (--cpu-factor)"
    if options.kaggle_report is not None:
        kaggle = json.loads(Path(options.kaggle_report).read_text(encoding="utf-8"))
        local = kernel_report.get("calibration_s")
        if kaggle.get("calibration_s") and local:
            factor = float(kaggle["calibration_s"]) / float(local)
            return round(factor, 3), (f"measured: calibration {kaggle['calibration_s']}s on Kaggle "
                                      f"({options.kaggle_report}) / {local}s here")
    return DEFAULT_CPU_FACTOR, "default assumption (Kaggle 2-vCPU Xeon ~2x slower per thread than this machine)"


def score_against_labels(submission: Path, posting_ids, label_groups) -> float:
    import pandas as pd

    from prodmatch.metrics import score_match_lists, truth_from_labels

    frame = pd.read_csv(submission, dtype=str, keep_default_na=False)
    predictions = dict(zip(frame["posting_id"], frame["matches"]))
    return round(score_match_lists(predictions, truth_from_labels(posting_ids, label_groups)).f1, 4)


def format_report(report: dict) -> str:
    lines = [f"rehearsal OK: recipe {report['recipe']}, {report['n_test']} test postings, isolation "
             f"{report['isolation']}, {report['network_attempts']} network attempts, prodmatch from "
             f"{report['prodmatch_file']}",
             f"{'stage':<28} {'seconds':>9} {'peak RSS GB (so far)':>21}"]
    for row in report["stages"]:
        peak = "" if row.get("peak_rss_gb") is None else f"{row['peak_rss_gb']:.2f}"
        lines.append(f"{row['stage']:<28} {row['seconds']:>9.2f} {peak:>21}")
    ks = report["kernel_seconds"]
    lines.append(f"{'kernel total (incl. install)':<28} {ks['total']:>9.2f}")
    lines.append(f"wall {report['wall_s']:.1f}s (plus {report['prepare_s']:.1f}s preparing the inputs/env)")
    lines.append(f"peak RSS {report['peak_rss_gb']:.2f} GB vs budget {report['ram_budget_gb']:.1f} GB: "
                 f"{'within' if report['within_ram_budget'] else 'OVER'}; GPU peak "
                 + ("not measured (no CUDA in this run)" if report["peak_gpu_gb"] is None else
                    f"{report['peak_gpu_gb']:.2f} GB vs {report['gpu_budget_gb']:.1f} GB: "
                    f"{'within' if report['within_gpu_budget'] else 'OVER'}"))
    p = report["projection"]
    lines.append(f"projected Kaggle run: {p['projected_s']:.0f}s = {p['overhead_s']:.0f}s overhead + "
                 f"{p['cpu_factor']} x {p['cpu_seconds_measured']:.1f}s CPU + {p['embed_seconds_modelled']:.0f}s "
                 f"modelled embedding ({p['cpu_factor_source']}); limit {p['limit_s']}s: "
                 f"{'within' if p['within_limit'] else 'OVER'}")
    if "f1_vs_copied_groups" in report:
        lines.append(f"F1 vs the copied label groups: {report['f1_vs_copied_groups']:.4f}")
    return "\n".join(lines)
