"""Record validation compiled once per schema, so that errors name the field and the reason.

fastavro's own validation says which field but not why, and its writer accepts ``True`` for a
``long``; this checks exactly the types the writer would need, at a few microseconds a record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Check", "Problem", "compile_check"]

Problem = tuple[str, str]
"""``(field path, reason)``; the path is ``""`` when the value itself is wrong."""
Check = Callable[[Any], Problem | None]

_RANGES = {"int": 1 << 31, "long": 1 << 63}
_MISSING = object()


def compile_check(schema: Any, extra: Mapping[str, Any] | None = None) -> Check:
    """A checker for values of the parsed ``schema`` (a fastavro-parsed record, usually).

    ``extra`` lists keys a top-level record may carry besides its fields, each with the only
    value allowed (the ``type`` of the JSON Lines form), which the writer then ignores.
    """
    return _compile(schema, {}, extra or {})


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _compile(schema: Any, named: dict[str, Check], extra: Mapping[str, Any]) -> Check:
    if isinstance(schema, list):
        return _union([_compile(branch, named, {}) for branch in schema],
                      [_label(branch) for branch in schema])
    if isinstance(schema, str):
        if schema in named:  # a named type defined earlier (or the record being compiled)
            return named[schema]
        schema = {"type": schema}
    kind = schema["type"]
    if kind == "record":
        # Filled after the checker is registered, so that a recursive type can refer to it.
        fields: list[tuple[str, Check, bool]] = []
        known: set[str] = set(extra)
        check = _record(schema["name"], fields, known, extra)
        named[schema["name"]] = check
        fields.extend((field["name"], _compile(field["type"], named, {}), "default" not in field)
                      for field in schema["fields"])
        known.update(field for field, _, _ in fields)
        return check
    if kind == "enum":
        named[schema["name"]] = check = _enum(schema["symbols"])
        return check
    if kind == "array":
        return _array(_compile(schema["items"], named, {}))
    if kind == "map":
        return _map(_compile(schema["values"], named, {}))
    if kind == "fixed":
        named[schema["name"]] = check = _fixed(schema["size"])
        return check
    if isinstance(kind, (dict, list)) or kind in named:
        return _compile(kind, named, extra)
    return _primitive(kind)


def _join(head: str, tail: str) -> str:
    return head + ("." if tail and not tail.startswith("[") else "") + tail


def _label(schema: Any) -> str:
    name = schema if isinstance(schema, str) else schema.get("name", schema["type"])
    return str(name).rsplit(".", 1)[-1]


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "null": lambda value: value is None,
    "boolean": lambda value: value is True or value is False,
    "string": lambda value: isinstance(value, str),
    "bytes": lambda value: isinstance(value, (bytes, bytearray)),
    "float": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    "double": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
}


def _primitive(kind: str) -> Check:
    expected = f"expected {kind}, got "
    if kind in _RANGES:
        limit = _RANGES[kind]

        def check_integer(value: Any) -> Problem | None:
            if not isinstance(value, int) or isinstance(value, bool):
                return ("", expected + _kind(value))
            if not -limit <= value < limit:
                return ("", f"{value} is out of range for {kind}")
            return None

        return check_integer
    if kind not in _TYPE_TESTS:
        raise ValueError(f"unsupported Avro type {kind!r}")
    test = _TYPE_TESTS[kind]
    return lambda value: None if test(value) else ("", expected + _kind(value))


def _array(item: Check) -> Check:
    def check(value: Any) -> Problem | None:
        if not isinstance(value, (list, tuple)):
            return ("", f"expected array, got {_kind(value)}")
        for index, element in enumerate(value):
            problem = item(element)
            if problem is not None:
                return (_join(f"[{index}]", problem[0]), problem[1])
        return None

    return check


def _map(item: Check) -> Check:
    def check(value: Any) -> Problem | None:
        if not isinstance(value, Mapping):
            return ("", f"expected map, got {_kind(value)}")
        for key, element in value.items():
            problem = (("", f"map key {key!r} is not a string") if not isinstance(key, str)
                       else item(element))
            if problem is not None:
                return (_join(f"[{key!r}]", problem[0]), problem[1])
        return None

    return check


def _enum(symbols: list[str]) -> Check:
    allowed = frozenset(symbols)
    listing = ", ".join(symbols)
    return lambda value: (None if isinstance(value, str) and value in allowed
                          else ("", f"{value!r} is not one of {listing}"))


def _fixed(size: int) -> Check:
    def check(value: Any) -> Problem | None:
        if not isinstance(value, (bytes, bytearray)) or len(value) != size:
            return ("", f"expected {size} bytes, got {_kind(value)}")
        return None

    return check


def _union(checks: list[Check], labels: list[str]) -> Check:
    expected = f"expected {' or '.join(labels)}, got "
    inner: Check | None = None
    if len(labels) == 2 and "null" in labels:  # optional enum or record: say what is wrong inside
        other = 1 - labels.index("null")
        if labels[other] not in _RANGES and labels[other] not in _TYPE_TESTS:
            inner = checks[other]

    def check(value: Any) -> Problem | None:
        if value is None and "null" in labels:
            return None
        if inner is not None:
            return inner(value)
        if any(branch(value) is None for branch in checks):
            return None
        return ("", expected + _kind(value))

    return check


def _record(name: str, fields: list[tuple[str, Check, bool]], known: set[str],
            extra: Mapping[str, Any]) -> Check:
    expected = f"expected a {_label(name)} record, got "

    def check(value: Any) -> Problem | None:
        if type(value) is not dict and not isinstance(value, Mapping):
            return ("", expected + _kind(value))
        for field, field_check, required in fields:
            item = value.get(field, _MISSING)
            if item is not _MISSING:
                problem = field_check(item)
                if problem is not None:
                    return (_join(field, problem[0]), problem[1])
            elif required:
                return (field, "missing (the field has no default)")
        if not known.issuperset(value):
            unknown = sorted(str(key) for key in value if key not in known)[0]
            return (unknown, "not a field of this schema")
        for key, allowed in extra.items():
            if key in value and value[key] != allowed:
                return (key, f"{value[key]!r} does not match this schema (expected {allowed!r})")
        return None

    return check
