"""Commands never catch built-in exception types (issue 18 step 4): bad input raises a prodmatch.errors type where
it is found, and anything else is a bug that keeps its traceback."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COMMANDS = Path(__file__).resolve().parents[2] / "src" / "prodmatch" / "commands"
BUILTIN_ERRORS = {name for name, value in vars(__import__("builtins")).items()
                  if isinstance(value, type) and issubclass(value, BaseException)}
NOT_YET: set[str] = set()  # every command now raises the project's error types instead of catching


def caught_builtins(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ExceptHandler):
            if node.type is None:
                found.append(f"{path.name}:{node.lineno}: bare except")
                continue
            names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            found += [f"{path.name}:{node.lineno}: {n.id}" for n in names
                      if isinstance(n, ast.Name) and n.id in BUILTIN_ERRORS]
    return found


@pytest.mark.parametrize("path", sorted(p for p in COMMANDS.glob("*.py") if p.name not in NOT_YET),
                         ids=lambda p: p.name)
def test_commands_catch_no_builtin_exception(path: Path):
    assert caught_builtins(path) == []
