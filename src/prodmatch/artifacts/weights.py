"""The layout of trained runs: ``<weights>/<run>/fold<k>/`` and the files a fold folder holds.

``train_fold.py`` writes one fold folder per trained fold; inference, CV and the kernel build find runs and
folds here. A run's model type (image or text) is the ``model`` key of its folds' ``config.yaml``.

A fold is *finished* when its ``metrics.json`` exists: training writes it last (atomically) and removes it
before a resumed session trains more epochs, so a run killed before its end has none. Runs written before
that rule were finished the same way (metrics.json last), except that a resume with more epochs kept the
old file: there it records fewer epochs than config.yaml asks for, which is also unfinished. A folder with
only model.pt + config.yaml (no checkpoint, no OOF file) is an inference copy, as the kernel build ships
those of finished runs. An unfinished fold is refused (:class:`UnfinishedRunError`) wherever a run is
used -- never skipped: a CV or a submission on fewer folds than trained would still look complete.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from prodmatch.errors import CorruptFileError, MissingInputError
from prodmatch.fileio import read_errors

MODEL_FILE = "model.pt"  # the encoder (format: prodmatch.models.build)
CONFIG_FILE = "config.yaml"  # the resolved training config
METRICS_FILE = "metrics.json"
OOF_FILE = "oof_embeddings.npz"  # format: prodmatch.artifacts.oof
CHECKPOINT_FILE = "last.ckpt"  # resumable training state (format: prodmatch.train.checkpoint)
TRAINING_OUTPUTS = (MODEL_FILE, OOF_FILE, METRICS_FILE, CONFIG_FILE, CHECKPOINT_FILE)
INFERENCE_FILES = (MODEL_FILE, CONFIG_FILE)  # all inference needs from a fold: no checkpoint, OOF or logs
_FOLD_DIR = re.compile(r"^fold(\d+)$")


class UnfinishedRunError(MissingInputError):
    """A run whose training stopped before its last epoch (killed, or still running) is asked to serve."""


@dataclass(frozen=True)
class FoldFiles:
    """The files of one fold folder."""

    path: Path

    @classmethod
    def of(cls, weights_dir: str | Path, run_name: str, fold: int) -> FoldFiles:
        return cls(Path(weights_dir) / run_name / f"fold{fold}")

    @property
    def fold(self) -> int | None:
        """k of ``fold<k>``; None for a folder named otherwise."""
        match = _FOLD_DIR.match(self.path.name)
        return int(match.group(1)) if match else None

    @property
    def name(self) -> str:
        """The folder name a copy of this fold gets (``fold0`` for a folder named otherwise)."""
        return self.path.name if self.fold is not None else "fold0"

    @property
    def model(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def config(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def metrics(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def oof(self) -> Path:
        return self.path / OOF_FILE

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_FILE

    def existing_outputs(self) -> list[str]:
        return [name for name in TRAINING_OUTPUTS if (self.path / name).exists()]

    def read_config(self) -> dict:
        """The resolved training config ({} when the fold has none); a broken one is a CorruptFileError."""
        if not self.config.is_file():
            return {}
        with read_errors(self.config, f"retrain {self.path.name} or copy the run's folder again"):
            with open(self.config, encoding="utf-8") as handle:
                config = yaml.safe_load(handle) or {}
        if not isinstance(config, dict):
            raise CorruptFileError(f"{self.config} is not a training config (a YAML mapping); retrain {self.path.name} "
                                   "or copy the run's folder again")
        return config

    def unfinished(self) -> str | None:
        """Why this fold's training is not finished (see the module docstring); None when it is."""
        if not self.metrics.is_file():
            if self.checkpoint.is_file() or self.oof.is_file():
                return f"no {METRICS_FILE}, which training writes last: it stopped before its last epoch"
            return None  # model.pt + config.yaml alone: an inference copy of a finished run
        try:
            done = json.loads(self.metrics.read_text(encoding="utf-8")).get("epochs")
            wanted = self.read_config().get("epochs")
        except (ValueError, AttributeError, yaml.YAMLError):
            return f"{METRICS_FILE} or {CONFIG_FILE} is not readable"
        if isinstance(done, int) and isinstance(wanted, int) and done < wanted:
            return f"{METRICS_FILE} records {done} of the {wanted} epochs in {CONFIG_FILE}: a resumed run stopped early"
        return None


def check_finished(folds: list[FoldFiles]) -> None:
    """Refuse any unfinished fold, naming each and what to do."""
    problems = [f"{fold.path} ({reason})" for fold in folds if (reason := fold.unfinished()) is not None]
    if problems:
        raise UnfinishedRunError(f"unfinished training run: {'; '.join(problems)}; finish it with the same "
                                 "train_fold.py command and --resume, or delete the fold folder")


def fold_folders(run_dir: str | Path, needs: str = MODEL_FILE) -> list[FoldFiles]:
    """The ``fold<k>/`` folders of a run that hold ``needs``, sorted by k; a fold folder given as the run is
    its own only fold."""
    run_dir = Path(run_dir)
    if (run_dir / needs).is_file():
        return [FoldFiles(run_dir)]
    if not run_dir.is_dir():
        return []
    found = [FoldFiles(child) for child in run_dir.iterdir() if _FOLD_DIR.match(child.name) and (child / needs).is_file()]
    return sorted(found, key=lambda f: f.fold)


def fold_dirs(run_dir: str | Path) -> list[Path]:
    """Fold folders of a run holding a model.pt (sorted by k); raises when there is none or one is unfinished."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise MissingInputError(f"run directory not found: {run_dir}")
    folds = fold_folders(run_dir)
    if not folds:
        raise MissingInputError(f"no fold<k>/{MODEL_FILE} under {run_dir}")
    check_finished(folds)
    return [f.path for f in folds]


def run_name_of(run_dir: str | Path) -> str:
    """The run's name: its folder's, or its parent's when a fold folder is given."""
    run_dir = Path(run_dir)
    return run_dir.parent.name if _FOLD_DIR.match(run_dir.name) else run_dir.name


def find_runs(weights_dir: str | Path) -> dict[str, Path]:
    """run name -> run dir, for every folder of ``weights_dir`` holding at least one fold<k>/model.pt."""
    root = Path(weights_dir)
    if not root.is_dir():
        return {}
    runs = {}
    for model_file in sorted(root.glob(f"*/fold*/{MODEL_FILE}")):
        if _FOLD_DIR.match(model_file.parent.name):
            runs.setdefault(model_file.parent.parent.name, model_file.parent.parent)
    return runs


def run_model_type(run_dir: str | Path) -> str | None:
    """``image`` or ``text`` from the config.yaml of a run's first fold (or of a fold folder); None if unknown."""
    run_dir = Path(run_dir)
    for folder in [FoldFiles(run_dir)] + fold_folders(run_dir, needs=CONFIG_FILE):
        model = folder.read_config().get("model")
        if model is not None:
            return model
    return None


def expected_folds(run_dir: str | Path) -> list[int] | None:
    """Folds 0..n_folds-1 of a run trained on hashed folds (from a fold's config.yaml); None when unknown."""
    for folder in fold_folders(run_dir, needs=CONFIG_FILE):
        config = folder.read_config()
        if config.get("folds_file") is None and isinstance(config.get("n_folds"), int):
            return list(range(config["n_folds"]))
    return None


FINGERPRINT_BYTES = 1 << 20  # model.pt is read at its start and end only: a retrained model differs there


def run_fingerprint(run_dir: str | Path) -> str:
    """A short hash of what a run's inference reads: each fold's config.yaml and model.pt (its size, first and
    last MiB). Copies of a run (a Kaggle dataset's weights/) share it; a retrained run does not."""
    digest = hashlib.sha256()
    for fold in fold_folders(run_dir):
        digest.update(fold.name.encode())
        if fold.config.is_file():
            digest.update(fold.config.read_bytes())
        size = fold.model.stat().st_size
        digest.update(str(size).encode())
        with open(fold.model, "rb") as handle:
            digest.update(handle.read(FINGERPRINT_BYTES))
            handle.seek(max(size - FINGERPRINT_BYTES, 0))
            digest.update(handle.read(FINGERPRINT_BYTES))
    return digest.hexdigest()[:16]
