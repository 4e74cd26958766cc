"""The house rule: layers import one way only.

    errors -> base (fileio, compat, metrics, device, progress) -> data -> models, search, demo
      -> match -> recipes -> artifacts -> embed -> visual -> cv, train -> pipeline -> kernel, report -> dedup
      -> commands -> cli

A module may import its own package and any lower layer, never a layer at its level or above. Training sits
beside cv (neither imports the other) and never reaches pipeline or commands; inference (embed) never
imports training. The visual-search wing (visual) loads models through embed and is read by the visual
training task (its folder layout, metrics and exact neighbours), so it sits between the two. The dedup wing
(``prodmatch dedup``) sits above report, whose page helpers it reuses. Every import statement counts, also
those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "prodmatch"

LAYERS = [
    {"errors"},
    {"fileio", "compat", "metrics", "device", "progress"},
    {"data"},
    {"models", "search", "demo"},
    {"match"},
    {"recipes"},
    {"artifacts"},
    {"embed"},
    {"visual"},
    {"cv", "train"},
    {"pipeline"},
    {"kernel", "report"},
    {"dedup"},  # the dedup wing: reuses the flows' layers below and the report's page helpers
    {"commands"},
    {"cli"},
    {"__main__"},
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def top_level_part(path: Path, package: Path) -> str:
    """``prodmatch/cv/run.py`` -> ``cv``; ``prodmatch/metrics.py`` -> ``metrics``."""
    relative = path.relative_to(package)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def prodmatch_imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level part) of every ``prodmatch.X`` import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names
                                     if node.module == "prodmatch"]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "prodmatch" and len(parts) > 1 and parts[1] != "__version__":
                found.append((node.lineno, parts[1]))
    return found


def layer_violations(package: Path = PACKAGE) -> list[str]:
    problems = []
    for path in sorted(package.rglob("*.py")):
        part = top_level_part(path, package)
        if part == "__init__":
            continue
        if part not in LEVEL:
            problems.append(f"{path.relative_to(package)}: module '{part}' is in no layer (add it to LAYERS)")
            continue
        for line, imported in prodmatch_imports(path):
            if imported == part:
                continue
            if imported not in LEVEL:
                problems.append(f"{path.relative_to(package)}:{line}: imports unknown prodmatch.{imported}")
            elif LEVEL[imported] >= LEVEL[part]:
                problems.append(f"{path.relative_to(package)}:{line}: {part} (layer {LEVEL[part]}) imports "
                                f"{imported} (layer {LEVEL[imported]})")
    return problems


def test_no_module_imports_from_its_own_layer_or_above():
    assert layer_violations() == []


def test_the_check_catches_an_upward_import(tmp_path):
    fake = tmp_path / "prodmatch"
    (fake / "search").mkdir(parents=True)
    (fake / "search" / "sources.py").write_text("def f():\n    from prodmatch.match.blending import blend\n")
    (fake / "embed.py").write_text("import prodmatch.train.data\n")
    (fake / "data").mkdir()
    (fake / "data" / "reading.py").write_text("from prodmatch.data.titles import clean_title\nfrom prodmatch import fileio\n")
    problems = layer_violations(fake)
    assert problems == ["embed.py:1: embed (layer 7) imports train (layer 9)",
                        "search/sources.py:2: search (layer 3) imports match (layer 4)"]


@pytest.mark.parametrize("part", sorted(LEVEL))
def test_every_layer_name_exists(part):
    assert (PACKAGE / part).is_dir() or (PACKAGE / f"{part}.py").is_file()
