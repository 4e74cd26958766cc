"""Which torch device work runs on, and mixed precision on it: one place for training, inference and search.

A CUDA device is used only when it can really run this torch build's kernels: some architecture in
``torch.cuda.get_arch_list()`` runs on its compute capability (torch's own rule, :func:`arch_supported`) and a
small CUDA op succeeds on it. ``torch.cuda.is_available()`` alone is not enough: Kaggle's default GPU (a P100,
sm_60) reports available while the image's torch ships no sm_60 kernels, and the first real op fails. An
unusable device gives one warning and the CPU (``auto``), or a clear error when CUDA was asked for by name.

Inference runs in float16 on GPUs without native bfloat16 (compute capability below 8.0: the T4, sm_75), even
for a run trained in bfloat16 (:func:`inference_amp_dtype`); :func:`usable_cuda_indices` lists every usable
device, so inference can spread fold models over Kaggle's two T4s.

torch is imported only when a device is actually needed, so the training-free path never loads it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

AMP_DTYPE_NAMES = ("float16", "bfloat16")
_warned: set[str] = set()


@dataclass(frozen=True)
class CudaCheck:
    """The verdict on one CUDA device (``usable``) and what it rests on, for logs and the kernel's first lines."""

    index: int
    usable: bool
    reason: str  # "ok", or why the device is refused
    present: bool = False  # torch sees the device (refusing a present device is worth a warning)
    name: str = ""
    capability: tuple[int, int] | None = None
    arch_list: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.capability is None:
            return f"cuda:{self.index}: {self.reason}"
        major, minor = self.capability
        state = "usable" if self.usable else f"NOT usable ({self.reason})"
        return f"cuda:{self.index} {self.name} sm_{major}{minor}: {state}; torch kernels for {' '.join(self.arch_list)}"


# Compute capabilities that run only code built for themselves (integrated GPUs: Jetson TX1, TX2, Xavier, Orin
# and sm_101), so the rule "same major, minor at or above" skips them; sm_101 code also runs on sm_110. The same
# table as torch.cuda.DEVICE_REQUIREMENT (torch 2.9+), which torch.cuda._check_capability warns from.
_RUNS_ONLY_ON = {53: {53}, 62: {62}, 72: {72}, 87: {87}, 101: {101, 110}}
_ARCH = re.compile(r"(sm|compute)_(\d+)[af]?")


def code_runs_on(code_cc: int, device_cc: int) -> bool:
    """Whether cubin code built for ``code_cc`` (e.g. 86) runs on a device of ``device_cc`` (e.g. 89): the same
    major version and a minor at or above the code's, except on the integrated GPUs of ``_RUNS_ONLY_ON``."""
    if code_cc in _RUNS_ONLY_ON:
        return device_cc in _RUNS_ONLY_ON[code_cc]
    if device_cc in _RUNS_ONLY_ON:
        return False
    return device_cc // 10 == code_cc // 10 and device_cc % 10 >= code_cc % 10


def arch_supported(capability: tuple[int, int], arch_list) -> bool:
    """Whether this torch build runs on ``capability``: an ``sm_XY`` in ``arch_list`` whose code runs on it
    (:func:`code_runs_on`: an L4, sm_89, runs sm_86 code), or PTX (``compute_XY``) for an architecture at or
    below it, which the driver compiles forward. Suffixed entries (``sm_90a``, ``sm_100f``) count as their
    base architecture, as in torch."""
    major, minor = capability
    wanted = major * 10 + minor
    for arch in arch_list:
        match = _ARCH.fullmatch(arch)
        if match is None:
            continue
        built = int(match.group(2))
        if match.group(1) == "compute" and built <= wanted:
            return True
        if match.group(1) == "sm" and code_runs_on(built, wanted):
            return True
    return False


@functools.cache
def check_cuda(index: int = 0) -> CudaCheck:
    """Whether ``cuda:<index>`` can run this torch build's kernels (cached: the answer does not change)."""
    try:
        import torch
    except ImportError:
        return CudaCheck(index, False, "torch is not installed")
    if not torch.cuda.is_available():
        return CudaCheck(index, False, "torch sees no CUDA device")
    if index >= torch.cuda.device_count():
        return CudaCheck(index, False, f"only {torch.cuda.device_count()} CUDA device(s)")
    try:
        name = torch.cuda.get_device_name(index)
        capability = tuple(torch.cuda.get_device_capability(index))
        arch_list = tuple(torch.cuda.get_arch_list())
    except Exception as exc:  # noqa: BLE001 - a broken driver is "not usable", not a crash
        return CudaCheck(index, False, f"querying the device failed: {exc!r}", present=True)
    found = {"present": True, "name": name, "capability": capability, "arch_list": arch_list}
    # ROCm builds list gfx targets, not sm_XY: there the test op below decides alone
    if torch.version.hip is None and not arch_supported(capability, arch_list):
        return CudaCheck(index, False, f"this torch build has no kernels for sm_{capability[0]}{capability[1]}",
                         **found)
    try:
        probe = torch.arange(8, dtype=torch.float32, device=f"cuda:{index}")
        if float((probe * 2).sum().item()) != 56.0:
            return CudaCheck(index, False, "a test CUDA op returned a wrong result", **found)
    except Exception as exc:  # noqa: BLE001
        return CudaCheck(index, False, f"a test CUDA op failed: {exc!r}", **found)
    return CudaCheck(index, True, "ok", **found)


def cuda_usable(index: int = 0) -> bool:
    """True when ``cuda:<index>`` exists and runs a real op; warns once when a device is seen but refused."""
    check = check_cuda(index)
    if not check.usable and check.present:
        warn_once(f"GPU refused, running on the CPU: {check.describe()}")
    return check.usable


def usable_cuda_indices() -> list[int]:
    """Every CUDA device this torch build can run on (see :func:`check_cuda`), e.g. [0, 1] on Kaggle's T4 x2."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    return [index for index in range(torch.cuda.device_count()) if cuda_usable(index)]


def cuda_checks() -> list[CudaCheck]:
    """The verdict on every CUDA device torch sees (one check saying why when it sees none): what the Kaggle
    kernel logs before deciding whether its recipe can run."""
    try:
        import torch
    except ImportError:
        return [check_cuda(0)]
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [check_cuda(index) for index in range(max(count, 1))]


#: bfloat16 runs natively from Ampere (compute capability 8.0) on; below it torch emulates it or refuses.
BF16_MIN_CAPABILITY = (8, 0)


def inference_amp_dtype(device: torch.device, wanted: str = "float16") -> str:
    """The autocast dtype to embed in on ``device``: the run's own (``wanted``), except bfloat16 on a GPU below
    compute capability 8.0 (a T4), which gets float16 with one warning: the T4 has no bfloat16 units, and
    autocast keeps the reductions that need range (norms, softmax) in float32 either way."""
    if wanted not in AMP_DTYPE_NAMES:
        raise ValueError(f"amp dtype must be one of {sorted(AMP_DTYPE_NAMES)}, got {wanted!r}")
    if wanted != "bfloat16" or device.type != "cuda":
        return wanted
    capability = check_cuda(device.index or 0).capability
    if capability is not None and tuple(capability) < BF16_MIN_CAPABILITY:
        warn_once(f"cuda:{device.index or 0} (sm_{capability[0]}{capability[1]}) has no native bfloat16: "
                  "embedding in float16 instead of the run's bfloat16")
        return "float16"
    return wanted


def warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def resolve_device(preference: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto``: ``cuda:<local_rank>`` when that device is usable (see :func:`check_cuda`), else the CPU;
    ``cpu``; ``cuda`` / ``cuda:N``: that device, or an error saying why it cannot be used."""
    import torch

    if preference == "cpu":
        return torch.device("cpu")
    if preference.startswith("cuda"):
        device = torch.device(preference if ":" in preference else f"cuda:{local_rank}")
        check = check_cuda(device.index)
        if not check.usable:
            raise RuntimeError(f"device {preference!r} asked for but it cannot be used: {check.describe()}")
        return device
    if preference != "auto":
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {preference!r}")
    return torch.device(f"cuda:{local_rank}") if cuda_usable(local_rank) else torch.device("cpu")


def as_device(device: str | torch.device | None) -> torch.device:
    """``None`` means ``auto`` (see :func:`resolve_device`)."""
    import torch

    if device is None:
        return resolve_device("auto")
    return device if isinstance(device, torch.device) else resolve_device(str(device))


def autocast(device: torch.device, enabled: bool = True, dtype: str = "float16"):
    """Mixed precision on CUDA in ``dtype`` (float16 or bfloat16); full precision elsewhere."""
    if enabled and device.type == "cuda":
        import torch

        if dtype not in AMP_DTYPE_NAMES:
            raise ValueError(f"amp dtype must be one of {sorted(AMP_DTYPE_NAMES)}, got {dtype!r}")
        return torch.autocast(device_type="cuda", dtype=getattr(torch, dtype))
    return contextlib.nullcontext()


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def default_num_workers(device: torch.device, cores: int | None = None) -> int:
    """DataLoader worker processes for image decoding on ``device``.

    On the CPU the model's own threads already use every core: extra processes only compete with them (on a
    2-core machine 2 workers made an epoch 1.5x slower), so up to 4 cores get none and bigger machines a
    quarter of their cores. On a GPU the main process mostly waits for the device, so decoding in workers
    pays: every core but one, at most 8.
    """
    cores = available_cores() if cores is None else cores
    if device.type == "cuda":
        return max(1, min(cores - 1, 8))
    return 0 if cores <= 4 else min(cores // 4, 4)
