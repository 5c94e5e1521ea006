"""Settings declared once, as frozen dataclasses with real types, and checked from that declaration.

A table of ``pyproject.toml`` (``[tool.hoist]``, ``[tool.hoist.apt]``, a
plugin's ``[tool.hoist.<kind>]``) is checked against the type annotations
of its dataclass, in cibuildwheel's manner: every problem at once, an
unknown key with the nearest known one, a missing key named.  Each value is
converted by msgspec (``msgspec.convert(..., strict=True)``: no ``"3"`` for
an integer, no ``true`` for a number), one key at a time, so that each
problem gets its own message; lists, tuples, optionals, ``Literal`` and
enums work as annotated.  A dataclass's ``problems()`` then checks the table
as a whole.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

import msgspec

T = TypeVar("T")


def did_you_mean(key: str, known: list[str]) -> str:
    """The nearest of *known* to *key*, as a hint, else the list of them."""
    close = difflib.get_close_matches(key, known, n=1)
    return f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(known))}"


def describe(kind: Any) -> str:
    """What a value of the annotation *kind* is, in words (``a list of strings``)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        named = [describe(a) for a in args if a is not type(None)]
        return " or ".join(named)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple):
        return f"a list of {describe(args[0]).removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    if origin is dict or kind is dict:
        return "a table"
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in kind)
    return {str: "a string", int: "an integer", bool: "true or false", float: "a number"}.get(kind, str(kind))


def toml_type(value: Any) -> str:
    """The type of *value*, as a message shows it (``str``, ``a list of int, str``)."""
    if isinstance(value, list) and value:
        return "a list of " + ", ".join(sorted({type(v).__name__ for v in value}))
    return type(value).__name__


def check_value(key: str, value: Any, kind: Any) -> tuple[Any, str | None]:
    """*value* converted to the annotation *kind*, and the problem (or None) of the setting *key*."""
    try:
        return msgspec.convert(value, type=kind, strict=True), None
    except msgspec.ValidationError:
        return None, f"{key} must be {describe(kind)}, not {toml_type(value)}"


def from_table(cls: type[T], table: Mapping[str, Any], where: str, path: object, problems: list[str],
               skip: tuple[str, ...] = ()) -> T | None:
    """The settings *cls* (a dataclass) of *table*, or None after adding its problems to *problems*.

    :param where: the table's dotted name (``tool.hoist.apt``), for messages.
    :param path: the file, for the messages about unknown keys.
    :param skip: fields of *cls* that the table does not set (made by the caller).
    """
    fields = [f for f in dataclasses.fields(cls) if f.name not in skip and f.init]
    known = [f.name for f in fields]
    hints = typing.get_type_hints(cls)
    before = len(problems)
    for key in table:
        if key not in known:
            problems.append(f"unknown key {where}.{key} in {path}: {did_you_mean(key, known)}")
    values = {}
    for f in fields:
        if f.name not in table:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                problems.append(f"{where} needs the key {f.name!r}")
            continue
        value, problem = check_value(f"{where}.{f.name}", table[f.name], hints[f.name])
        if problem:
            problems.append(problem)
        else:
            values[f.name] = value
    if len(problems) > before:
        return None
    made = cls(**values)
    problems.extend(made.problems() if hasattr(made, "problems") else [])
    return made if len(problems) == before else None
