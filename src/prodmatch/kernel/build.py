"""``prodmatch kernel build``: the Kaggle dataset (wheel, thresholds, weights) and the kernel that uses it.

Output (``--out``, default kernels/build)::

    dataset/                          upload with `kaggle datasets create -p ... --dir-mode zip`
      dataset-metadata.json           id <user>/<dataset slug>, title, license
      prodmatch-dataset.json          the manifest the kernel reads (build id, files + sha256, runs, ...)
      prodmatch-<version>-py3-none-any.whl
      <vendored>.whl                  pure-Python wheels from --vendor-wheel, installed only if missing
      recipe.yaml                     the recipe that runs (run selectors rewritten to shipped run names)
      thresholds.json                 tuned thresholds (+ the same recipe), when given or tuned at build time
      weights/<run>/fold<k>/          model.pt + config.yaml of each run the recipe needs, nothing else
    kernel/                           push with `kaggle kernels push -p ...`
      kernel-metadata.json            internet off, GPU on, competition + dataset sources
      kernel.py                       rendered from templates/kernel.py.tmpl

The wheel is built offline from the source tree (``pip wheel --no-deps --no-build-isolation --no-index`` of a
clean copy of pyproject.toml + src/, so the working tree gets no build/ or egg-info litter), or taken from
``--wheel``. Templates live in ``prodmatch/kernel/templates/`` (package data, so an installed prodmatch can
build too).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import string
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from prodmatch.artifacts.thresholds import write_thresholds
from prodmatch.artifacts.weights import INFERENCE_FILES, fold_folders, run_model_type, run_name_of
from prodmatch.errors import ArgumentError, InputError, MissingInputError
from prodmatch.fileio import atomic_open, check_output_dir, write_json

TEMPLATES = Path(__file__).resolve().parent / "templates"
MANIFEST_NAME = "prodmatch-dataset.json"
MANIFEST_FORMAT = "prodmatch-kaggle-dataset/1"
COMPETITION = "shopee-product-matching"
DEFAULT_DATASET_SLUG = "prodmatch-shopee-offline"
DEFAULT_KERNEL_SLUG = "prodmatch-shopee-kernel"
PLACEHOLDER_USER = "your-kaggle-username"
# what `prodmatch submit` imports, checked by the kernel before it runs (import names, not distributions)
BASE_MODULES = ["numpy", "pandas", "scipy", "sklearn", "yaml", "psutil"]
MODEL_MODULES = {  # per model type of a shipped run: the encoder, its inputs (image decoding + transforms)
    "image": ["torch", "torchvision", "timm", "albumentations", "cv2"],
    "text": ["torch", "transformers", "tokenizers"],
}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")
#: what a kernel whose recipe needs a GPU may run when it finds none (None: stop with the reason)
GPU_FALLBACKS = ("none", "text-phash")


class BuildError(ArgumentError):
    """The kernel cannot be built from what was given (explained in the message): bad input, exit 2."""


@dataclass
class BuildOptions:
    out: Path = Path("kernels/build")
    weights: Path | None = Path("weights")
    recipe: str = "auto"  # auto | built-in name | .yaml path
    thresholds: Path | None = None
    tune_data_dir: Path | None = None  # tune thresholds by CV here at build time when none are given
    kaggle_user: str | None = None  # default: $KAGGLE_USERNAME, else a placeholder (with a warning)
    dataset_slug: str = DEFAULT_DATASET_SLUG
    kernel_slug: str = DEFAULT_KERNEL_SLUG
    competition: str = COMPETITION
    wheel: Path | None = None  # a prebuilt prodmatch wheel instead of building one
    vendor_wheels: list[Path] = field(default_factory=list)
    submit_args: list[str] = field(default_factory=list)
    license: str = "other"
    private: bool = True
    gpu_fallback: str = "none"  # GPU_FALLBACKS: what the kernel runs when its recipe needs a GPU and none is usable
    project_root: Path | None = None  # source tree holding pyproject.toml (default: the one prodmatch runs from)


@dataclass
class BuildResult:
    out: Path
    dataset_dir: Path
    kernel_dir: Path
    manifest: dict
    notes: list[str]

    def summary(self) -> str:
        m = self.manifest
        runs = ", ".join(f"{k}={v['run']} ({len(v['folds'])} folds)" for k, v in m["runs"].items()) or "none"
        lines = [f"built {self.out}/ (build {m['build_id']}, prodmatch {m['prodmatch_version']}, recipe {m['recipe']})",
                 f"  dataset: {self.dataset_dir}  ({m['dataset_id']}, {m['total_bytes'] / 1e6:.1f} MB)",
                 f"  kernel:  {self.kernel_dir}  ({m['kernel_id']})",
                 f"  thresholds: {m['thresholds'] or 'none shipped: the kernel tunes them on train.csv'}",
                 f"  weights: {runs}"]
        if m["runs"]:
            lines.append(f"  without a usable GPU the kernel {'runs text-phash' if m.get('gpu_fallback') else 'stops'}"
                         " (--gpu-fallback)")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ wheel
def find_project_root() -> Path | None:
    """The source tree prodmatch is imported from (src layout), or None for an installed wheel."""
    import prodmatch

    root = Path(prodmatch.__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "prodmatch").is_dir() else None


def build_wheel(project_root: Path, dest: Path) -> Path:
    """Build the prodmatch wheel offline from a clean copy of ``project_root``; returns the .whl path."""
    project_root = Path(project_root)
    if not (project_root / "pyproject.toml").is_file():
        raise BuildError(f"{project_root} has no pyproject.toml; pass --wheel FILE")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="prodmatch-wheel-") as tmp:
        src = Path(tmp) / "src-tree"
        src.mkdir()
        for name in os.listdir(project_root):
            path = project_root / name
            if path.is_file() and (name in ("pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in")
                                   or name.upper().startswith(("README", "LICENSE", "NOTICE"))):
                shutil.copy2(path, src / name)
        shutil.copytree(project_root / "src", src / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*"))
        out = Path(tmp) / "dist"
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                   "--disable-pip-version-check", "-q", "-w", str(out), str(src)]
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "PIP_NO_INPUT": "1", "PIP_NO_CACHE_DIR": "1"})
        wheels = sorted(out.glob("prodmatch-*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            raise BuildError(f"building the prodmatch wheel failed ({' '.join(command)}):\n"
                             f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        target = dest / wheels[0].name
        shutil.copy2(wheels[0], target)
    return target


def check_wheel(path: Path) -> str:
    """Sanity-check a prodmatch wheel (package, recipes, CLI inside); returns its version."""
    if not path.is_file() or not path.name.startswith("prodmatch-") or path.suffix != ".whl":
        raise BuildError(f"not a prodmatch wheel: {path}")
    with zipfile.ZipFile(path) as handle:
        names = set(handle.namelist())
    needed = ["prodmatch/__init__.py", "prodmatch/cli.py", "prodmatch/commands/submit.py",
              "prodmatch/recipes/text-phash.yaml"]
    missing = [n for n in needed if n not in names]
    if missing:
        raise BuildError(f"{path.name} lacks {missing}")
    return path.name.split("-")[1]


# ---------------------------------------------------------------------------------------- recipe/weights
def choose_recipe(recipe_arg: str | None, thresholds: Path | None, weights: Path | None):
    """(recipe, the chosen decision rule's kind or None, note). ``auto``: the thresholds' recipe, else full when
    --weights has runs."""
    from prodmatch.artifacts.weights import find_runs
    from prodmatch.pipeline.thresholds import load_runnable_thresholds
    from prodmatch.recipes import load_recipe

    if thresholds is not None:
        chosen = load_runnable_thresholds(thresholds, weights, recipe_arg)
        recipe = chosen.thresholds.recipe
        return recipe, chosen.thresholds.chosen, f"recipe '{recipe.name}' from {thresholds}"
    if recipe_arg in (None, "auto"):
        runs = find_runs(weights) if weights is not None else {}
        if runs:
            return load_recipe("full"), None, f"recipe 'full' (auto: {weights} has runs {sorted(runs)})"
        return load_recipe("text-phash"), None, f"recipe 'text-phash' (auto: no trained runs under {weights})"
    return load_recipe(recipe_arg), None, f"recipe '{recipe_arg}'"


def ship_weights(recipe, weights: Path | None, dataset: Path) -> tuple[dict, dict]:
    """Copy model.pt + config.yaml of every fold of the runs the recipe needs into dataset/weights/.

    Returns (runs manifest: embedding -> {run, model, folds}, selector rewrite: embedding -> shipped run name).
    """
    from prodmatch.pipeline.runs import resolve_runs

    if not recipe.needs_weights:
        return {}, {}
    if weights is None:
        raise BuildError(f"recipe '{recipe.name}' needs trained weights; pass --weights DIR")
    try:
        resolved = resolve_runs(recipe, weights)
    except InputError as exc:
        raise BuildError(f"{exc} (or build the weight-free kernel with --recipe text-phash)") from None
    runs, shipped_names, rewrite = {}, {}, {}
    for embedding, run_dir in resolved.items():
        run_dir = Path(run_dir).resolve()
        name = run_name_of(run_dir)
        if shipped_names.get(name, run_dir) != run_dir:
            raise BuildError(f"two different runs are both named {name!r}: {shipped_names[name]} and {run_dir}")
        folds = fold_folders(run_dir)
        if not folds:
            raise BuildError(f"run {run_dir} has no fold<k>/model.pt")
        if name not in shipped_names:
            for fold in folds:
                target = dataset / "weights" / name / fold.name
                target.mkdir(parents=True, exist_ok=True)
                for file_name in INFERENCE_FILES:
                    if (fold.path / file_name).is_file():
                        shutil.copy2(fold.path / file_name, target / file_name)
        shipped_names[name] = run_dir
        model = run_model_type(folds[0].path)
        if model is None:
            raise BuildError(f"{folds[0].config} is missing or names no model type; the kernel needs it "
                             "to match runs to the recipe's embeddings")
        config = folds[0].read_config()  # how the run embeds, for the rehearsal's time projection
        runs[embedding] = {"run": name, "model": model, "folds": [f.name for f in folds], "source": str(run_dir),
                           "tta": model == "image" and bool(config.get("tta", False)),
                           "amp_dtype": config.get("amp_dtype", "float16")}
        rewrite[embedding] = name
    return runs, rewrite


def required_modules(runs: dict) -> list[str]:
    """Modules the kernel checks before running: the base ones, and those of each shipped run's model type."""
    modules = list(BASE_MODULES)
    for run in runs.values():
        modules += [m for m in MODEL_MODULES.get(run["model"], []) if m not in modules]
    return modules


def rewrite_selectors(spec: dict, rewrite: dict) -> dict:
    """Recipe spec whose ``run:`` selectors name the shipped run (the kernel points them at its weights)."""
    spec = copy.deepcopy(spec)
    for embedding, selector in (spec.get("embeddings") or {}).items():
        if isinstance(selector, dict) and "run" in selector and embedding in rewrite:
            selector["run"] = rewrite[embedding]
    return spec


# ----------------------------------------------------------------------------------------------- helpers
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_info(root: Path | None) -> dict:
    if root is None or shutil.which("git") is None:
        return {}
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=20)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if commit.returncode != 0:
        return {}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def check_slug(slug: str, what: str) -> str:
    if not _SLUG.match(slug):
        raise BuildError(f"{what} {slug!r}: Kaggle slugs are 3-50 lowercase letters, digits and dashes")
    return slug


def kaggle_user(explicit: str | None, notes: list[str]) -> str:
    user = explicit or os.environ.get("KAGGLE_USERNAME")
    if not user:
        notes.append(f"no --kaggle-user (or $KAGGLE_USERNAME): metadata ids use the placeholder "
                     f"{PLACEHOLDER_USER!r}; rebuild with your username before pushing")
        return PLACEHOLDER_USER
    return user.strip().lower()


def title_of(slug: str) -> str:
    """Kaggle derives a kernel's slug from its title (lowercased, spaces to dashes): keep them in step."""
    return slug.replace("-", " ")


def render_kernel(values: dict) -> str:
    template = string.Template((TEMPLATES / "kernel.py.tmpl").read_text(encoding="utf-8"))
    return template.substitute(values)


def load_template_json(name: str) -> dict:
    with open(TEMPLATES / name, encoding="utf-8") as handle:
        return json.load(handle)


# ------------------------------------------------------------------------------------------------- build
def build_kernel(options: BuildOptions) -> BuildResult:
    notes: list[str] = []
    out = check_output_dir(options.out)  # before the wheel build and any tuning
    user = kaggle_user(options.kaggle_user, notes)
    dataset_slug = check_slug(options.dataset_slug, "dataset slug")
    kernel_slug = check_slug(options.kernel_slug, "kernel slug")
    weights = Path(options.weights) if options.weights else None
    thresholds = Path(options.thresholds) if options.thresholds else None
    for flag, path in (("--thresholds", thresholds), ("--wheel", options.wheel)):
        if path is not None and not Path(path).is_file():
            raise MissingInputError(f"{flag} {path}: file not found")
    if options.gpu_fallback not in GPU_FALLBACKS:
        raise BuildError(f"--gpu-fallback {options.gpu_fallback!r}: choose from {list(GPU_FALLBACKS)}")
    recipe, matcher, recipe_note = choose_recipe(options.recipe, thresholds, weights)
    notes.append(recipe_note)
    if thresholds is None and options.tune_data_dir is None and recipe.needs_weights:
        raise BuildError(f"recipe '{recipe.name}' needs tuned thresholds (the kernel cannot tune it: OOF "
                         "embeddings are not shipped): pass --thresholds runs/cv/.../thresholds.json from "
                         "`prodmatch cv`, or --tune-data-dir DIR to tune at build time")

    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        dataset, kernel_dir = staging / "dataset", staging / "kernel"
        dataset.mkdir()
        kernel_dir.mkdir()

        # prodmatch wheel (+ vendored wheels)
        if options.wheel is not None:
            wheel = dataset / Path(options.wheel).name
            shutil.copy2(options.wheel, wheel)
        else:
            root = Path(options.project_root) if options.project_root else find_project_root()
            if root is None:
                raise BuildError("prodmatch is not running from a source tree; pass --wheel FILE "
                                 "(a prodmatch wheel) or --project-root DIR")
            wheel = build_wheel(root, dataset)
        version = check_wheel(wheel)
        vendored = []
        for source in options.vendor_wheels:
            source = Path(source)
            if source.suffix != ".whl" or not source.is_file():
                raise BuildError(f"--vendor-wheel {source}: not a wheel file")
            if not source.name.endswith("-none-any.whl"):
                notes.append(f"{source.name} is not a pure-Python wheel: it must match Kaggle's Python/platform")
            if (dataset / source.name).exists():
                raise BuildError(f"--vendor-wheel {source.name} given twice (or clashes with the prodmatch wheel)")
            shutil.copy2(source, dataset / source.name)  # top level: no sub-folder to zip/unzip on upload
            vendored.append({"name": source.name.split("-")[0], "file": source.name})

        # weights, recipe, thresholds
        runs, rewrite = ship_weights(recipe, weights, dataset)
        spec = rewrite_selectors(recipe.spec, rewrite)
        with atomic_open(dataset / "recipe.yaml", "w", encoding="utf-8") as handle:
            yaml.safe_dump(spec, handle, sort_keys=False)
        thresholds_name = None
        if thresholds is not None:
            with open(thresholds, encoding="utf-8") as handle:
                data = json.load(handle)
            data["recipe"] = rewrite_selectors(data["recipe"], rewrite)
            write_json(dataset / "thresholds.json", data)
            thresholds_name = "thresholds.json"
        elif options.tune_data_dir is not None:
            matcher = tune_thresholds(recipe, weights, Path(options.tune_data_dir), dataset / "thresholds.json",
                                     rewrite)
            thresholds_name = "thresholds.json"
            notes.append(f"thresholds tuned by CV on {options.tune_data_dir}/train.csv at build time")
        else:
            notes.append("no thresholds shipped: the kernel tunes them by CV on the competition's train.csv "
                         "(adds the tune_cv stage to the Kaggle run)")

        # manifest + dataset metadata
        dataset_id, kernel_id = f"{user}/{dataset_slug}", f"{user}/{kernel_slug}"
        files = {}
        for path in sorted(p for p in dataset.rglob("*") if p.is_file()):
            files[path.relative_to(dataset).as_posix()] = {"bytes": path.stat().st_size, "sha256": sha256_of(path)}
        build_id = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:12]
        manifest = {
            "format": MANIFEST_FORMAT, "build_id": build_id,
            "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "prodmatch_version": version, "git": git_info(options.project_root or find_project_root()),
            "dataset_id": dataset_id, "kernel_id": kernel_id, "competition": options.competition,
            "recipe": recipe.name, "recipe_file": "recipe.yaml", "thresholds": thresholds_name,
            "matcher": matcher,
            "needs_images": recipe.needs_weights, "wheel": wheel.name, "vendored_wheels": vendored,
            "gpu_fallback": options.gpu_fallback if recipe.needs_weights and options.gpu_fallback != "none" else None,
            "weights_dir": "weights" if runs else None, "runs": runs,
            "requires_modules": required_modules(runs),
            "submit_args": list(options.submit_args),
            "total_bytes": sum(f["bytes"] for f in files.values()), "files": files,
        }
        write_json(dataset / MANIFEST_NAME, manifest)
        meta = load_template_json("dataset-metadata.json")
        meta.update({"id": dataset_id, "title": title_of(dataset_slug), "licenses": [{"name": options.license}]})
        write_json(dataset / "dataset-metadata.json", meta)

        # kernel
        kernel_meta = load_template_json("kernel-metadata.json")
        kernel_meta.update({"id": kernel_id, "title": title_of(kernel_slug), "is_private": options.private,
                            "dataset_sources": [dataset_id], "competition_sources": [options.competition]})
        write_json(kernel_dir / "kernel-metadata.json", kernel_meta)
        script = render_kernel({"build_id": build_id, "version": version, "recipe": recipe.name,
                                "dataset_id": dataset_id, "dataset_slug": dataset_slug,
                                "competition_slug": options.competition, "manifest_name": MANIFEST_NAME})
        compile(script, "kernel.py", "exec")  # a template error fails the build, not the Kaggle run
        with atomic_open(kernel_dir / "kernel.py", "w", encoding="utf-8") as handle:
            handle.write(script)

        for path in staging.rglob("*"):  # atomic writes make 0600 files; uploads and rehearsals want 0644
            path.chmod(0o755 if path.is_dir() else 0o644)

        # swap the new dataset/ and kernel/ into place
        for name in ("dataset", "kernel"):
            final = out / name
            if final.exists():
                old = staging / f"old-{name}"
                os.replace(final, old)
            os.replace(staging / name, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(out, out / "dataset", out / "kernel", manifest, notes)


def tune_thresholds(recipe, weights: Path | None, data_dir: Path, out: Path, rewrite: dict):
    """CV on data_dir/train.csv, as `prodmatch cv --no-nested` does, saved as thresholds.json (with the size
    curve when the CV makes one: the kernel's `prodmatch submit` then moves the policy to the test size)."""
    from prodmatch.pipeline.tune import TuneOptions, tune

    tuned = tune(TuneOptions(data_dir, recipe, weights or "weights", nested=False))
    print(tuned.result.format_table())
    thresholds = tuned.thresholds(data_dir)
    thresholds.recipe = dataclasses.replace(thresholds.recipe, spec=rewrite_selectors(thresholds.recipe.spec, rewrite))
    write_thresholds(out, thresholds)
    return thresholds.chosen
