import subprocess
import sys
import types

import pytest

from prodmatch import compat


def test_timm_and_torchvision_import_through_the_shim():
    code = (
        "from prodmatch.compat import import_timm, import_torchvision, torchvision_was_shimmed\n"
        "tv = import_torchvision(); timm = import_timm()\n"
        "import torchvision.transforms as T\n"
        "m = timm.create_model('resnet10t', pretrained=False, num_classes=0)\n"
        "print('ok', tv.__version__, torchvision_was_shimmed())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok ")


def test_a_normally_importing_torchvision_is_left_untouched(monkeypatch):
    fake = types.ModuleType("torchvision")
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    monkeypatch.setattr(compat, "_SHIM_LIBRARY", None)
    assert compat.import_torchvision() is fake
    assert not compat.torchvision_was_shimmed()


def test_other_import_errors_are_not_swallowed(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def broken(name, *args, **kwargs):
        if name == "torchvision":
            raise RuntimeError("something else entirely")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    monkeypatch.setattr(builtins, "__import__", broken)
    with pytest.raises(RuntimeError, match="something else"):
        compat.import_torchvision()
