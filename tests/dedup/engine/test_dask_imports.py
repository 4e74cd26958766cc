"""Dask stays in its own modules: only ``prodmatch/dedup/engine/dask_*.py`` import dask, distributed or tornado
(the partitioned path is plain numpy/scipy and runs in process without them)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "src" / "prodmatch"
DASK_PACKAGES = {"dask", "distributed", "tornado"}


def dask_importers(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if any(name.split(".")[0] in DASK_PACKAGES for name in names):
                found.append(str(path.relative_to(package)))
    return sorted(set(found))


def test_only_the_dask_modules_import_dask():
    importers = dask_importers()
    assert importers and all(name.startswith("dedup/engine/dask_") for name in importers), importers


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "x.py").write_text("def f():\n    from distributed import Client\n")
    assert dask_importers(tmp_path) == ["search/x.py"]
