"""Bad input, one row per mistake: build it, run the command, expect exit 2 and one ``error: ...`` line.

Add a row: one ``Case(id, argv, message, setup=(...))`` line in CASES. Placeholders in ``argv`` and in the
paths of setup steps: ``{tmp}`` (the row's own folder), ``{tiny}`` (a text-only Kaggle folder), ``{demo}``
(the demo folder, with images), ``{weights}`` (a trained tiny image run in the weights/ layout) and
``{thresholds}`` (the thresholds.json of a CV over it); each is a fresh copy per row, so a row may break it.
``before="module:function"`` makes that function fail the row if it runs: the mistake must be caught before
the work. Rows run ``prodmatch.cli.main`` in-process (fast); ``subprocess=True`` runs a real
``python -m prodmatch`` (or ``make_submission.py``) to prove the exit status itself.
"""

from __future__ import annotations

import importlib
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from prodmatch.cli import main
from tests.conftest import REPO_ROOT, write_tiny_kaggle_dir

TEXT_PHASH = (REPO_ROOT / "src" / "prodmatch" / "recipes" / "text-phash.yaml").read_text(encoding="utf-8")
QUICK_CV = "--no-pair-model --no-nested --no-size-curve"


class Context:
    """One row's placeholders, materialised on first use, and its monkeypatch."""

    def __init__(self, tmp: Path, request, monkeypatch):
        self.tmp, self.request, self.monkeypatch = tmp, request, monkeypatch
        self.paths: dict[str, str] = {"tmp": str(tmp)}

    def __getitem__(self, name: str) -> str:
        if name not in self.paths:
            self.paths[name] = str(self._make(name))
        return self.paths[name]

    def _make(self, name: str) -> Path:
        if name == "tiny":
            return write_tiny_kaggle_dir(self.tmp / "tiny")
        if name == "demo":
            return Path(shutil.copytree(self.request.getfixturevalue("demo_dir"), self.tmp / "demo"))
        if name in ("weights", "thresholds"):
            weights, thresholds = self.request.getfixturevalue("trained")
            self.paths["weights"] = str(shutil.copytree(weights, self.tmp / "weights"))
            self.paths["thresholds"] = str(shutil.copy(thresholds, self.tmp / "thresholds.json"))
            return Path(self.paths[name])
        raise KeyError(name)

    def path(self, template: str) -> Path:
        return Path(self.format(template))

    def format(self, template: str) -> str:
        return template.format_map(self)


Step = Callable[[Context], None]


def write(path: str, content: str | bytes) -> Step:
    def step(ctx: Context) -> None:
        target = ctx.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return step


def truncate(path: str, keep: int) -> Step:
    """Keep the first ``keep`` bytes (a copy cut short)."""
    def step(ctx: Context) -> None:
        target = ctx.path(path)
        target.write_bytes(target.read_bytes()[:keep])
    return step


def mkdir(path: str) -> Step:
    return lambda ctx: ctx.path(path).mkdir(parents=True, exist_ok=True)


def replace_text(path: str, old: str, new: str) -> Step:
    def step(ctx: Context) -> None:
        target = ctx.path(path)
        text = target.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {target}"
        target.write_text(text.replace(old, new), encoding="utf-8")
    return step


def cell(path: str, row: int, column: str, value: str) -> Step:
    """Set one cell of a CSV (row 0 = first data row)."""
    def step(ctx: Context) -> None:
        import pandas as pd

        target = ctx.path(path)
        frame = pd.read_csv(target, dtype=str, keep_default_na=False)
        frame.loc[row, column] = value
        frame.to_csv(target, index=False)
    return step


def read_only(path: str) -> Step:
    """The folder refuses writes. Tests run as root, where chmod stops nothing, so access() says it too (as it
    does on a read-only mount)."""
    def step(ctx: Context) -> None:
        folder = ctx.path(path)
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o555)
        real = os.access
        ctx.monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if (mode & os.W_OK) and
                                os.path.abspath(p) == str(folder) else real(p, mode, *a, **k))
    return step


@dataclass(frozen=True)
class Case:
    id: str
    argv: str
    message: str
    setup: tuple[Step, ...] = ()
    before: str | None = None  # "module:function" that must not run: the mistake is caught before the work
    code: int = 2
    subprocess: bool = False


MODEL = "{weights}/test-image-tiny/fold0/model.pt"
OOF = "{weights}/test-image-tiny/fold0/oof_embeddings.npz"
SUBMIT_FULL = "submit --data-dir {demo} --recipe full --weights {weights} --thresholds {thresholds} --out {tmp}/s.csv"
CV_FULL = f"cv --data-dir {{demo}} --recipe full --weights {{weights}} --out {{tmp}}/cv {QUICK_CV}"
RUN_CV = "prodmatch.pipeline.tune:run_cv"

CASES = [
    # data files (validated by prodmatch.data)
    Case("cv-no-data-dir", "cv --data-dir {tmp}/nope", "data directory not found"),
    Case("cv-data-dir-is-a-file", "cv --data-dir {tmp}/f", "data directory not found", (write("{tmp}/f", "x"),)),
    Case("cv-train-wrong-columns", "cv --data-dir {tiny}", "missing required column(s)",
         (write("{tiny}/train.csv", "a,b\n1,2\n"),)),
    Case("cv-train-latin1", "cv --data-dir {tiny}", "not UTF-8 text",
         (write("{tiny}/train.csv", "é".encode("latin-1")),)),
    Case("cv-train-semicolons", "cv --data-dir {tiny}", "separated by ';': save it with commas",
         (replace_text("{tiny}/train.csv", ",", ";"),)),
    Case("cv-train-empty", "cv --data-dir {tiny}", "file is empty", (write("{tiny}/train.csv", ""),)),
    Case("cv-train-is-a-folder", "cv --data-dir {tmp}/d", "is a folder", (mkdir("{tmp}/d/train.csv"),)),
    Case("cv-image-outside-the-folder", "cv --data-dir {tiny}", "leaves the images folder",
         (cell("{tiny}/train.csv", 3, "image", "../../../etc/passwd"),), before=RUN_CV),
    Case("submit-absolute-image-name", "submit --data-dir {tiny} --out {tmp}/s.csv", "is an absolute path",
         (cell("{tiny}/test.csv", 0, "image", "/etc/passwd"),), before="prodmatch.pipeline.submit:tune"),
    Case("submit-duplicate-test-ids", "submit --data-dir {tiny} --out {tmp}/s.csv", "duplicate posting_id",
         (cell("{tiny}/test.csv", 1, "posting_id", "test_0"),), before="prodmatch.pipeline.submit:tune"),
    # folds files
    Case("cv-folds-fractional", "cv --data-dir {tiny} --folds {tmp}/f.csv", "fold must be a non-negative integer",
         (write("{tmp}/f.csv", "posting_id,fold\ntrain_0_0,1.5\n"),)),
    Case("cv-folds-is-a-folder", "cv --data-dir {tiny} --folds {tmp}", "is a folder"),
    Case("cv-folds-not-utf8", "cv --data-dir {tiny} --folds {tmp}/f.csv", "not UTF-8",
         (write("{tmp}/f.csv", b"posting_id,fold\n\xff,0\n"),)),
    # recipes: unknown keys and wrong types, named with the file
    Case("recipe-misspelt-top-level-key", "cv --data-dir {tiny} --recipe {tmp}/r.yaml",
         "unknown key 'mni2' (did you mean 'min2'?)", (write("{tmp}/r.yaml", TEXT_PHASH.replace("min2:", "mni2:")),),
         before=RUN_CV),
    Case("recipe-wrong-type", "cv --data-dir {tiny} --recipe {tmp}/r.yaml", "sources[0].k must be an integer",
         (write("{tmp}/r.yaml", "name: r\nsources:\n  - {type: tfidf, name: t, k: fifty}\n"),), before=RUN_CV),
    Case("recipe-unknown-source-key", "cv --data-dir {tiny} --recipe {tmp}/r.yaml", "unknown key 'kk'",
         (write("{tmp}/r.yaml", "name: r\nsources:\n  - {type: tfidf, name: t, kk: 5}\n"),), before=RUN_CV),
    Case("recipe-unknown-blend-key", "cv --data-dir {tiny} --recipe {tmp}/r.yaml",
         "sources[0].blend: unknown key 'top'",
         (write("{tmp}/r.yaml", "name: r\nsources:\n  - {type: tfidf, name: t, blend: {top: 2}}\n"),), before=RUN_CV),
    Case("recipe-bad-analyzer", "cv --data-dir {tiny} --recipe {tmp}/r.yaml", "analyzer must be one of",
         (write("{tmp}/r.yaml", "name: r\nsources:\n  - {type: tfidf, name: t, configs: [{analyzer: wrod}]}\n"),),
         before=RUN_CV),
    Case("recipe-negative-cap", "cv --data-dir {tiny} --recipe {tmp}/r.yaml", "cap must be >= 1",
         (write("{tmp}/r.yaml", "name: r\ncap: -3\nsources:\n  - {type: tfidf, name: t}\n"),), before=RUN_CV),
    Case("recipe-sources-not-a-list", "cv --data-dir {tiny} --recipe {tmp}/r.yaml", "sources must be a list",
         (write("{tmp}/r.yaml", "name: r\nsources: tfidf\n"),), before=RUN_CV),
    Case("recipe-not-yaml", "cv --data-dir {tiny} --recipe {tmp}/r.yaml", "not valid YAML",
         (write("{tmp}/r.yaml", "name: r\nsources: [\n"),)),
    Case("recipe-empty", "cv --data-dir {tiny} --recipe {tmp}/r.yaml", "is empty", (write("{tmp}/r.yaml", ""),)),
    Case("recipe-binary", "cv --data-dir {tiny} --recipe {tmp}/r.yaml", "not UTF-8",
         (write("{tmp}/r.yaml", b"\xff\xfe\x00\x01"),)),
    Case("recipe-is-a-folder", "cv --data-dir {tiny} --recipe {tmp}/r.yaml", "is a folder", (mkdir("{tmp}/r.yaml"),)),
    # corrupted artifacts: the file and what to do
    Case("submit-truncated-model", SUBMIT_FULL, "model.pt is truncated or corrupted", (truncate(MODEL, 5000),)),
    Case("submit-overwritten-model", SUBMIT_FULL, "model.pt is not a model file",
         (write(MODEL, "posting_id,matches\n"),)),
    Case("make-submission-truncated-model", SUBMIT_FULL, "retrain the fold", (truncate(MODEL, 5000),),
         subprocess=True),
    Case("cv-truncated-oof", CV_FULL, "oof_embeddings.npz is truncated or corrupted", (truncate(OOF, 300),),
         before=RUN_CV),
    Case("cv-fold-config-not-yaml", CV_FULL, "config.yaml", (write("{weights}/test-image-tiny/fold0/config.yaml",
                                                                   "model: [image\n"),)),
    Case("report-cv-json-corrupted", "report --cv-dir {tmp}/cv --out {tmp}/r.html", "cv.json",
         (write("{tmp}/cv/cv.json", "{"), write("{tmp}/cv/thresholds.json", "{}"),
          write("{tmp}/cv/candidates.npz", b"PK\x03\x04"))),
    Case("report-candidates-truncated", "report --cv-dir {tmp}/cv --out {tmp}/r.html", "candidates.npz",
         (lambda ctx: main(ctx.format(f"cv --data-dir {{tiny}} --out {{tmp}}/cv {QUICK_CV}").split()),
          truncate("{tmp}/cv/candidates.npz", 100))),
    # outputs: refused before the work starts
    Case("cv-out-is-a-file", f"cv --data-dir {{tiny}} --out {{tmp}}/f {QUICK_CV}", "is a file",
         (write("{tmp}/f", "x"),), before=RUN_CV),
    Case("cv-out-read-only", f"cv --data-dir {{tiny}} --out {{tmp}}/ro/cv {QUICK_CV}", "is not writable",
         (read_only("{tmp}/ro"),), before=RUN_CV),
    Case("cv-out-not-a-cv-folder", f"cv --data-dir {{tiny}} --out {{tmp}}/other {QUICK_CV}", "is not a CV folder",
         (write("{tmp}/other/notes.txt", "mine"),), before=RUN_CV),
    Case("cv-out-is-the-data", f"cv --data-dir {{tiny}} --out {{tiny}} {QUICK_CV}", "holds an input of this run",
         before=RUN_CV),
    Case("folds-out-is-train-csv", "folds --data-dir {tiny} --out {tiny}/train.csv", "is an input of this run"),
    Case("folds-out-read-only", "folds --data-dir {tiny} --out {tmp}/ro/f.csv", "is not writable",
         (read_only("{tmp}/ro"),), before="prodmatch.data.folds:assign_folds"),
    Case("folds-out-under-a-file", "folds --data-dir {tiny} --out {tmp}/f/folds.csv", "is not a folder",
         (write("{tmp}/f", "x"),), before="prodmatch.data.folds:assign_folds"),
    Case("demo-out-read-only", "demo --out {tmp}/ro/demo --no-images", "is not writable", (read_only("{tmp}/ro"),),
         before="prodmatch.demo.shopee:build_catalog"),
    Case("demo-out-is-a-file", "demo --out {tmp}/f --no-images", "is a file", (write("{tmp}/f", "x"),),
         before="prodmatch.demo.shopee:build_catalog"),
    Case("visual-demo-out-read-only", "index demo --out {tmp}/ro/v --n-products 4", "is not writable",
         (read_only("{tmp}/ro"),)),
    Case("report-out-is-a-folder", "report --cv-dir {tmp}/cv --out {tmp}", "is a folder",
         (lambda ctx: main(ctx.format(f"cv --data-dir {{tiny}} --out {{tmp}}/cv {QUICK_CV}").split()),),
         before="prodmatch.report.build:render_html"),
    Case("report-out-read-only", "report --cv-dir {tmp}/cv --out {tmp}/ro/r.html", "is not writable",
         (lambda ctx: main(ctx.format(f"cv --data-dir {{tiny}} --out {{tmp}}/cv {QUICK_CV}").split()),
          read_only("{tmp}/ro")), before="prodmatch.report.build:render_html"),
    Case("kernel-build-out-is-a-file", "kernel build --recipe text-phash --tune-data-dir {tiny} --out {tmp}/f",
         "is a file", (write("{tmp}/f", "x"),), before="prodmatch.kernel.build:build_wheel"),
    Case("submit-timings-over-the-tuned-thresholds", "submit --data-dir {tiny} --out {tmp}/s.csv --timings-json "
         "{tmp}/s.thresholds.json", "is also another output of this run", before="prodmatch.pipeline.submit:tune"),
    Case("submit-out-read-only", "submit --data-dir {tiny} --out {tmp}/ro/s.csv", "is not writable",
         (read_only("{tmp}/ro"),), before="prodmatch.pipeline.submit:tune"),
    # options with nonsense values
    Case("cv-n-folds-zero", "cv --data-dir {tiny} --n-folds 0", "argument --n-folds: must be >= 2, got 0",
         before=RUN_CV),
    Case("cv-more-folds-than-groups", "cv --data-dir {tiny} --n-folds 1000", "more than the 40 label_groups",
         before=RUN_CV),
    Case("report-cv-dir-is-a-file", "report --cv-dir {tmp}/f", "CV folder not found", (write("{tmp}/f", "x"),)),
    Case("demo-image-size-huge", "demo --out {tmp}/d --image-size 100000", "image_size must be 32 to 4096 pixels",
         before="prodmatch.demo.shopee:build_catalog"),
    Case("cv-recipe-is-a-folder-without-suffix", "cv --data-dir {tiny} --recipe {tmp}", "is a folder"),
    Case("cv-n-folds-not-a-number", "cv --data-dir {tiny} --n-folds five", "expected an integer, got 'five'"),
    Case("submit-batch-size-negative", "submit --data-dir {tiny} --out {tmp}/s.csv --batch-size -4",
         "argument --batch-size: must be >= 1, got -4", before="prodmatch.pipeline.submit:tune"),
    Case("report-examples-negative", "report --cv-dir {tmp}/cv --examples -1",
         "argument --examples: must be >= 0, got -1", before="prodmatch.report.build:build_report"),
    Case("report-screenshot-size", "report --cv-dir {tmp}/cv --screenshot-size big", "WIDTHxHEIGHT",
         before="prodmatch.report.build:build_report"),
    Case("cv-missing-required-option", "cv", "the following arguments are required: --data-dir"),
    # the real exit status of a real process
    Case("subprocess-recipe-misspelt", "cv --data-dir {tiny} --recipe {tmp}/r.yaml", "unknown key 'mni2'",
         (write("{tmp}/r.yaml", TEXT_PHASH.replace("min2:", "mni2:")),), subprocess=True),
    Case("subprocess-cv-out-is-a-file", f"cv --data-dir {{tiny}} --out {{tmp}}/f {QUICK_CV}", "is a file",
         (write("{tmp}/f", "x"),), subprocess=True),
]


@pytest.fixture(scope="session")
def trained(demo_dir, tmp_path_factory):
    """A 1-epoch tiny image run (fold 0) on the demo data and the thresholds.json of a quick CV over it."""
    from prodmatch.pipeline.tune import TuneOptions, cross_validate
    from prodmatch.recipes import load_recipe
    from prodmatch.train.config import load_config
    from prodmatch.train.loop import train_fold

    root = tmp_path_factory.mktemp("trained")
    train_fold(load_config(REPO_ROOT / "configs" / "test-image-tiny.yaml", data_dir=str(demo_dir),
                           out=str(root / "weights"), fold=0, epochs=1))
    cross_validate(TuneOptions(demo_dir, load_recipe("full"), root / "weights", nested=False, size_curve=False,
                               matcher="union"), root / "cv", log=lambda line: None)
    return root / "weights", root / "cv" / "thresholds.json"


def _forbid(monkeypatch, target: str) -> None:
    module_name, name = target.split(":")
    module = importlib.import_module(module_name)
    assert hasattr(module, name), f"{target} does not exist: fix the row"

    def work(*args, **kwargs):
        raise AssertionError(f"{target} ran before the bad input was refused")

    monkeypatch.setattr(module, name, work)


def _run_process(argv: list[str]) -> tuple[int, str]:
    import prodmatch

    env = {**os.environ, "PYTHONPATH": str(Path(prodmatch.__file__).parents[1])}  # the code this test imported
    command = [sys.executable, "-m", "prodmatch", *argv]
    if argv[0] == "submit":
        command = [sys.executable, str(REPO_ROOT / "make_submission.py"), *argv[1:]]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    return done.returncode, done.stderr


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_one_error_line_and_exit_2(case, tmp_path, request, monkeypatch, capsys):
    ctx = Context(tmp_path, request, monkeypatch)
    for step in case.setup:
        step(ctx)
    argv = shlex.split(ctx.format(case.argv))
    capsys.readouterr()
    if case.subprocess:
        code, err = _run_process(argv)
    else:
        if case.before:
            _forbid(monkeypatch, case.before)
        code, err = main(argv), capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == case.code, err
    assert "Traceback" not in err and len(errors) == 1, err
    assert case.message in errors[0], err
