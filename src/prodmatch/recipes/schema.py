"""What a recipe may say: every key known, every value of the type (and in the range) its field takes.

A source's keys and types are the dataclass fields of the class its ``type`` names (nested configs too:
``TfidfConfig``, ``BlendConfig``), so a field added to a source is accepted where it is declared. A mistake is
a :class:`prodmatch.errors.ConfigError` naming the file, where the key is (``sources[0].blend.top_m``) and,
for a misspelt key, the closest known one::

    recipe my.yaml: unknown key 'mni2' (did you mean 'min2'?); known: name, sources, priority, ...
    recipe my.yaml: sources[0].k must be an integer, got 'fifty'
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from prodmatch.errors import ConfigError, MissingInputError
from prodmatch.search.dense import BACKENDS
from prodmatch.search.sources import EmbeddingSource, PhashSource, TfidfSource
from prodmatch.search.tfidf import ANALYZERS

SOURCE_TYPES = {"tfidf": TfidfSource, "phash": PhashSource, "embedding": EmbeddingSource}
TOP_LEVEL: dict[str, Any] = {
    "name": str, "sources": list, "priority": list[str], "min2": bool, "cap": int,
    "embeddings": dict, "pair_model": dict,
    "dropped_sources": dict,  # written by Recipe.restrict_to into the saved spec
}
SELECTOR_KEYS: dict[str, Any] = {"model": str, "run": str, "optional": bool}
REQUIRED = ("name", "sources")
Rule = Callable[[Any], str]  # "" when the value is fine, else what it must be


def at_least(low: float) -> Rule:
    return lambda value: "" if value >= low else f"must be >= {low:g}"


def within(low: float, high: float) -> Rule:
    return lambda value: "" if low <= value <= high else f"must be within [{low:g}, {high:g}]"


def one_of(choices: tuple[str, ...]) -> Rule:
    return lambda value: "" if value in choices else f"must be one of {', '.join(choices)}"


def _ngram_range(value) -> str:
    low, high = value
    return "" if 1 <= low <= high else "must be [low, high] with 1 <= low <= high"


# value rules by key, wherever the key appears (a source, a TF-IDF config, a blend, the top level)
RULES: dict[str, Rule] = {
    "cap": at_least(1), "k": at_least(1), "top_m": at_least(1), "min_df": at_least(1), "block_rows": at_least(1),
    "max_distance": within(0, 64), "min_score": within(-1, 1), "max_df": within(0, 1), "power": at_least(0),
    "analyzer": one_of(ANALYZERS), "backend": one_of(BACKENDS), "ngram_range": _ngram_range,
}


def read_yaml_file(path: str | Path, what: str) -> Any:
    """The YAML document in ``path`` (``what`` names it in errors: "recipe", "training config"...); a missing,
    unreadable, non-UTF-8, malformed or empty file is a one-line error naming it."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder; give the .yaml file")
    if not path.is_file():
        raise MissingInputError(f"{what} file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read the file ({exc.strerror or exc})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{what} {path}: not valid YAML ({getattr(exc, 'problem', None) or exc}{where})") from None
    if document is None:
        raise ConfigError(f"{what} {path} is empty")
    return document


def check_recipe(spec: Any, origin: str) -> None:
    """Raise a ConfigError naming ``origin`` (e.g. ``recipe my.yaml``) for the first mistake in ``spec``."""
    if not isinstance(spec, dict):
        raise ConfigError(f"{origin}: a recipe is a mapping of keys (name, sources, ...), got "
                          f"{type(spec).__name__}")
    check_keys(spec, TOP_LEVEL, origin, "")
    for key in REQUIRED:
        if key not in spec:
            raise ConfigError(f"{origin}: missing '{key}'")
    for key, hint in TOP_LEVEL.items():
        if key in spec:
            check_value(spec[key], hint, origin, key)
    for position, source in enumerate(spec["sources"]):
        check_source(source, origin, f"sources[{position}]")
    for name, selector in (spec.get("embeddings") or {}).items():
        where = f"embeddings.{name}"
        if selector is None:
            continue
        if not isinstance(selector, dict):
            raise ConfigError(f"{origin}: {where} must be a mapping (model, run, optional), got {selector!r}")
        check_keys(selector, SELECTOR_KEYS, origin, where)
        for key, hint in SELECTOR_KEYS.items():
            if key in selector:
                check_value(selector[key], hint, origin, f"{where}.{key}")


def check_source(source: Any, origin: str, where: str) -> None:
    if not isinstance(source, dict):
        raise ConfigError(f"{origin}: {where} must be a mapping with a 'type', got {source!r}")
    kind = source.get("type")
    if kind not in SOURCE_TYPES:
        raise ConfigError(f"{origin}: {where}: unknown source type {kind!r}; use one of {', '.join(SOURCE_TYPES)}")
    fields = _fields(SOURCE_TYPES[kind])
    check_keys(source, {"type": str, **fields}, origin, where)
    for key, value in source.items():
        if key != "type":
            check_value(value, fields[key], origin, f"{where}.{key}")


def check_keys(mapping: dict, known: dict, origin: str, where: str) -> None:
    for key in mapping:
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            place = f"{where}: " if where else ""
            raise ConfigError(f"{origin}: {place}unknown key '{key}'{hint}; known: {', '.join(known)}")


def check_value(value: Any, hint: Any, origin: str, where: str) -> None:
    """``value`` (from YAML) against the type ``hint`` of the field it fills, then the key's rule."""
    problem = _type_problem(value, hint, origin, where)
    if problem:
        raise ConfigError(f"{origin}: {where} must be {problem}, got {value!r}")
    rule = RULES.get(where.rsplit(".", 1)[-1])
    if rule is not None and value is not None:
        broken = rule(value)
        if broken:
            raise ConfigError(f"{origin}: {where} {broken}, got {value!r}")


def _type_problem(value: Any, hint: Any, origin: str, where: str) -> str:
    """What ``value`` should be to fill ``hint`` ("" when it does); nested dataclasses are checked in place."""
    origin_type, args = typing.get_origin(hint), typing.get_args(hint)
    if origin_type in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return ""
        options = [a for a in args if a is not type(None)]
        problems = [_type_problem(value, a, origin, where) for a in options]
        return "" if "" in problems else " or ".join(problems) + (" or null" if type(None) in args else "")
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            return f"a mapping of {', '.join(_fields(hint))}"
        fields = _fields(hint)
        check_keys(value, fields, origin, where)
        for key, item in value.items():
            check_value(item, fields[key], origin, f"{where}.{key}")
        return ""
    if origin_type in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return "a list"
        fixed = origin_type is tuple and bool(args) and args[-1] is not Ellipsis  # tuple[int, int]: a hint per place
        if fixed and len(value) != len(args):
            return f"a list of {len(args)} values"
        for position, item in enumerate(value):
            item_hint = args[position] if fixed else (args[0] if args else Any)
            check_value(item, item_hint, origin, f"{where}[{position}]")
        return ""
    if hint in (dict,) or origin_type is dict:
        return "" if isinstance(value, dict) else "a mapping"
    if hint is bool:
        return "" if isinstance(value, bool) else "true or false"
    if hint is int:
        return "" if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if hint is float:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return "" if number and math.isfinite(value) else "a finite number"
    if hint is str:
        return "" if isinstance(value, str) else "a string"
    return ""


def _fields(cls) -> dict[str, Any]:
    """The init fields of a dataclass and their resolved type hints."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}
