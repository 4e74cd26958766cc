"""Import helpers for environments where the binary stack does not line up.

PyPI's torchvision wheels are CUDA builds. Next to a CPU-only torch (the usual CPU install, and CI), its
C++ extension cannot load, and ``import torchvision`` then dies in ``_meta_registrations`` with
``RuntimeError: operator torchvision::nms does not exist`` -- which also breaks ``import timm`` and
``import transformers``.

:func:`import_torchvision` first imports torchvision normally and returns it untouched when that works.
Only on that exact error does it declare the schemas of the two operators torchvision registers
unconditionally (``nms``, ``qnms``) in a ``torchvision`` library fragment, drop the half-imported
modules and import again. Transforms, models and everything prodmatch uses work after that; the compiled
ops themselves (``torchvision.ops.nms``, ``roi_align``, ...) stay unavailable, as they already were.
"""

from __future__ import annotations

import sys
from types import ModuleType

_NMS_ERROR = "torchvision::nms does not exist"
_SHIM_LIBRARY = None  # kept alive for the process: dropping the Library object unregisters the schemas


def torchvision_was_shimmed() -> bool:
    """True when :func:`import_torchvision` had to declare the operator schemas itself."""
    return _SHIM_LIBRARY is not None


def import_torchvision() -> ModuleType:
    global _SHIM_LIBRARY
    try:
        import torchvision

        return torchvision
    except RuntimeError as exc:
        if _NMS_ERROR not in str(exc):
            raise
    import torch

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _SHIM_LIBRARY = library
    import torchvision

    return torchvision


def import_transformers() -> ModuleType:
    """``import transformers`` (which imports torchvision too), quiet about local weight loading."""
    import_torchvision()
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()  # no "Loading weights" bars for local files
    return transformers


def import_timm() -> ModuleType:
    """``import timm`` after making sure torchvision (which timm imports) can load."""
    import_torchvision()
    import timm

    return timm
