"""JSON Schema checks, compiled once per schema.

Two checkers sit behind one interface. A small compiler turns each desk
schema into nested Python closures that only answer "valid or not" with the
exact semantics of jsonschema's ``Draft202012Validator`` for the keywords it
knows (about 20x faster than jsonschema, and it needs no import). Only a
record that fails it goes through jsonschema, which finds every error and
words the messages. A schema using a keyword the compiler does not know
(``unevaluatedProperties``, ``$dynamicRef``, ``multipleOf``...) is checked by
jsonschema alone, so the fast path can never accept what jsonschema refuses.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urldefrag, urljoin

SchemaError = tuple[tuple, str]  # (path inside the instance, message)
Check = Callable[[Any], bool]

# Every assertion or applicator keyword Draft202012Validator implements. Keys
# outside this set are annotations (title, x-internal...) that it ignores, and
# so does the compiler; keys inside it that the compiler cannot do send the
# whole schema to jsonschema.
_DRAFT_2020_12_KEYWORDS = frozenset({
    "$ref", "$dynamicRef", "additionalProperties", "allOf", "anyOf", "const", "contains", "dependentRequired",
    "dependentSchemas", "enum", "exclusiveMaximum", "exclusiveMinimum", "format", "if", "items",
    "maxItems", "maxLength", "maxProperties", "maximum", "minItems", "minLength", "minProperties",
    "minimum", "multipleOf", "not", "oneOf", "pattern", "patternProperties", "prefixItems", "properties",
    "propertyNames", "required", "type", "unevaluatedItems", "unevaluatedProperties", "uniqueItems",
})
_UNSUPPORTED = frozenset({
    "$dynamicRef", "contains", "dependentSchemas", "multipleOf", "unevaluatedItems", "unevaluatedProperties",
})


class SchemaSet:
    """The desk's schemas (draft 2020-12, cross-referenced by ``$id``), with compiled checkers per file."""

    def __init__(self, schemas: dict[str, dict[str, Any]]):
        self.schemas = schemas
        self._validators: dict[str, Any] = {}
        self._fast: dict[str, Check | None] = {}
        self._registry: Any = None

    def _validator(self, name: str) -> Any:
        v = self._validators.get(name)
        if v is None:
            from jsonschema import Draft202012Validator
            from referencing import Registry, Resource

            if self._registry is None:
                resources = [
                    (s["$id"], Resource.from_contents(s)) for s in self.schemas.values() if isinstance(s, dict) and "$id" in s
                ]
                self._registry = Registry().with_resources(resources)
            v = Draft202012Validator(self.schemas[name], registry=self._registry)
            self._validators[name] = v
        return v

    def _fast_check(self, name: str) -> Check | None:
        if name not in self._fast:
            try:
                self._fast[name] = compile_schema(self.schemas[name], self.schemas.values())
            except (Unsupported, re.error, RecursionError, TypeError, ValueError, KeyError, AttributeError):
                self._fast[name] = None
        return self._fast[name]

    def has(self, name: str) -> bool:
        """True when the desk has a schema file of this name."""
        return name in self.schemas

    def is_valid(self, name: str, instance: Any) -> bool:
        """True when ``instance`` satisfies the schema (fast; no messages)."""
        check = self._fast_check(name)
        if check is not None:
            return check(instance)
        return self._validator(name).is_valid(instance)

    def errors(self, name: str, instance: Any) -> list[SchemaError]:
        """Every schema violation of ``instance``, each with its path and a readable message."""
        check = self._fast_check(name)
        if check is not None and check(instance):
            return []
        from jsonschema.exceptions import relevance

        validator = self._validator(name)
        out = []
        for error in sorted(validator.iter_errors(instance), key=relevance):
            if error.validator in ("anyOf", "oneOf") and error.context:
                best = min(error.context, key=lambda e: (len(e.path), e.message))
                path = tuple(error.absolute_path) + tuple(best.path)
                out.append((path, best.message))
                continue
            out.append((tuple(error.absolute_path), _message(error)))
        out.sort(key=lambda e: [str(p) for p in e[0]])
        return out

    def internal_fields(self, name: str) -> set[str]:
        """Top-level properties the schema marks ``x-internal`` (never published)."""
        props = self.schemas.get(name, {}).get("properties", {})
        return {k for k, v in props.items() if isinstance(v, dict) and v.get("x-internal")}


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field")
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "pattern":
        field = _where(error.path) if error.path else "value"
        return f"{field}: {error.instance!r} does not have the expected form ({error.schema.get('description') or error.validator_value})"
    if error.validator == "const" and error.path:
        return f"{_where(error.path)}: must be {error.validator_value!r}, not {error.instance!r}"
    if error.path:
        return f"{_where(error.path)}: {error.message}"
    return error.message


# --- the compiler ---------------------------------------------------------------------------


class Unsupported(Exception):
    """The schema uses something the compiler does not do; jsonschema checks it instead."""


def compile_schema(schema: Any, resources: Any = ()) -> Check:
    """A validity check for ``schema`` equivalent to ``Draft202012Validator(schema).is_valid``.

    ``resources`` are the other schemas ``$ref`` may name by ``$id``. Raises
    :class:`Unsupported` for keywords it does not implement and for recursive
    references.
    """
    by_id = {urldefrag(s["$id"])[0]: s for s in resources if isinstance(s, dict) and isinstance(s.get("$id"), str)}
    base = schema.get("$id", "") if isinstance(schema, dict) else ""
    if base:
        by_id.setdefault(urldefrag(base)[0], schema)
    return _Compiler(by_id).compile(schema, base, ())


class _Compiler:
    def __init__(self, by_id: dict[str, Any]):
        self.by_id = by_id
        self.done: dict[tuple[int, str], Check] = {}

    def compile(self, schema: Any, base: str, stack: tuple) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported("a schema must be an object or a boolean")
        if isinstance(schema.get("$id"), str):
            base = urljoin(base, schema["$id"])
        key = (id(schema), base)
        if key in self.done:
            return self.done[key]
        if key in stack:
            raise Unsupported("recursive $ref")
        stack = (*stack, key)
        used = _DRAFT_2020_12_KEYWORDS.intersection(schema)
        if used & _UNSUPPORTED:
            raise Unsupported(", ".join(sorted(used & _UNSUPPORTED)))
        checks: list[Check] = []
        for kw in sorted(used, key=_ORDER.get):
            made = getattr(self, "_" + kw.lstrip("$"))(schema[kw], schema, base, stack)
            if made is not None:
                checks.append(made)
        check = _all_of(checks)
        self.done[key] = check
        return check

    # Each keyword returns a check, or None when it asserts nothing.

    def _ref(self, ref: Any, schema: dict, base: str, stack: tuple) -> Check:
        if not isinstance(ref, str):
            raise Unsupported("$ref must be a string")
        url, fragment = urldefrag(urljoin(base, ref))
        doc = self.by_id.get(url)
        if doc is None:
            raise Unsupported(f"unresolvable $ref {ref}")
        if fragment and not fragment.startswith("/"):
            raise Unsupported("$ref to an anchor")
        node = doc
        for part in fragment.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
            if isinstance(node, dict) and "$id" in node:
                raise Unsupported("$ref into a subschema with its own $id")
        return self.compile(node, url, stack)

    def _type(self, types: Any, schema: dict, base: str, stack: tuple) -> Check:
        names = [types] if isinstance(types, str) else list(types)
        tests = [_TYPES[n] for n in names]
        if len(tests) == 1:
            return tests[0]
        return lambda x: any(t(x) for t in tests)

    def _enum(self, enums: Any, schema: dict, base: str, stack: tuple) -> Check:
        values = list(enums)
        if all(isinstance(v, str) for v in values):
            allowed = frozenset(values)
            return lambda x: isinstance(x, str) and x in allowed
        return lambda x: any(equal(v, x) for v in values)

    def _const(self, const: Any, schema: dict, base: str, stack: tuple) -> Check:
        if isinstance(const, str):
            return lambda x: isinstance(x, str) and x == const
        return lambda x: equal(x, const)

    def _pattern(self, pattern: Any, schema: dict, base: str, stack: tuple) -> Check:
        search = re.compile(pattern).search
        return lambda x: not isinstance(x, str) or search(x) is not None

    def _minLength(self, n: Any, schema: dict, base: str, stack: tuple) -> Check:
        return lambda x: not isinstance(x, str) or not len(x) < n

    def _maxLength(self, n: Any, schema: dict, base: str, stack: tuple) -> Check:
        return lambda x: not isinstance(x, str) or not len(x) > n

    def _minimum(self, n: Any, schema: dict, base: str, stack: tuple) -> Check:
        return lambda x: not _is_number(x) or not x < n

    def _maximum(self, n: Any, schema: dict, base: str, stack: tuple) -> Check:
        return lambda x: not _is_number(x) or not x > n

    def _exclusiveMinimum(self, n: Any, schema: dict, base: str, stack: tuple) -> Check:
        return lambda x: not _is_number(x) or not x <= n

    def _exclusiveMaximum(self, n: Any, schema: dict, base: str, stack: tuple) -> Check:
        return lambda x: not _is_number(x) or not x >= n

    def _minItems(self, n: Any, schema: dict, base: str, stack: tuple) -> Check:
        return lambda x: not isinstance(x, list) or not len(x) < n

    def _maxItems(self, n: Any, schema: dict, base: str, stack: tuple) -> Check:
        return lambda x: not isinstance(x, list) or not len(x) > n

    def _minProperties(self, n: Any, schema: dict, base: str, stack: tuple) -> Check:
        return lambda x: not isinstance(x, dict) or not len(x) < n

    def _maxProperties(self, n: Any, schema: dict, base: str, stack: tuple) -> Check:
        return lambda x: not isinstance(x, dict) or not len(x) > n

    def _uniqueItems(self, flag: Any, schema: dict, base: str, stack: tuple) -> Check | None:
        if not flag:
            return None
        return lambda x: not isinstance(x, list) or uniq(x)

    def _format(self, value: Any, schema: dict, base: str, stack: tuple) -> None:
        return None  # an annotation: Draft202012Validator asserts formats only with a format checker

    def _required(self, names: Any, schema: dict, base: str, stack: tuple) -> Check:
        wanted = list(names)
        return lambda x: not isinstance(x, dict) or all(n in x for n in wanted)

    def _dependentRequired(self, deps: Any, schema: dict, base: str, stack: tuple) -> Check:
        pairs = [(k, list(v)) for k, v in deps.items()]
        return lambda x: not isinstance(x, dict) or all(all(d in x for d in v) for k, v in pairs if k in x)

    def _properties(self, props: Any, schema: dict, base: str, stack: tuple) -> Check:
        compiled = {k: self.compile(v, base, stack) for k, v in props.items()}
        ap = schema.get("additionalProperties", True)
        if ap is False and "patternProperties" not in schema:
            # properties + additionalProperties: false in one pass over the instance.
            def closed(x: Any) -> bool:
                if not isinstance(x, dict):
                    return True
                for k, v in x.items():
                    sub = compiled.get(k)
                    if sub is None or not sub(v):
                        return False
                return True

            return closed

        def open_(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for k, sub in compiled.items():  # noqa: SIM110 - a plain loop is faster than all() here
                if k in x and not sub(x[k]):
                    return False
            return True

        return open_

    def _additionalProperties(self, ap: Any, schema: dict, base: str, stack: tuple) -> Check | None:
        if ap is False and "properties" in schema and "patternProperties" not in schema:
            return None  # folded into _properties
        sub = self.compile(ap, base, stack)
        props = schema.get("properties", {})
        joined = "|".join(schema.get("patternProperties", {}))
        search = re.compile(joined).search if joined else None

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for k, v in x.items():
                if k in props or (search is not None and search(k)):
                    continue
                if not sub(v):
                    return False
            return True

        return check

    def _patternProperties(self, pp: Any, schema: dict, base: str, stack: tuple) -> Check:
        compiled = [(re.compile(p).search, self.compile(s, base, stack)) for p, s in pp.items()]

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for search, sub in compiled:
                for k, v in x.items():
                    if search(k) and not sub(v):
                        return False
            return True

        return check

    def _propertyNames(self, s: Any, schema: dict, base: str, stack: tuple) -> Check:
        sub = self.compile(s, base, stack)
        return lambda x: not isinstance(x, dict) or all(sub(k) for k in x)

    def _prefixItems(self, items: Any, schema: dict, base: str, stack: tuple) -> Check:
        subs = [self.compile(s, base, stack) for s in items]
        return lambda x: not isinstance(x, list) or all(sub(v) for sub, v in zip(subs, x))

    def _items(self, items: Any, schema: dict, base: str, stack: tuple) -> Check:
        if isinstance(items, list):
            raise Unsupported("array-form items is not draft 2020-12")
        prefix = len(schema.get("prefixItems", []))
        if items is False:
            return lambda x: not isinstance(x, list) or len(x) <= prefix
        sub = self.compile(items, base, stack)

        def each(x: Any) -> bool:
            if not isinstance(x, list):
                return True
            for v in itertools.islice(x, prefix, None) if prefix else x:  # noqa: SIM110 - faster than all()
                if not sub(v):
                    return False
            return True

        return each

    def _allOf(self, subs: Any, schema: dict, base: str, stack: tuple) -> Check:
        return _all_of([self.compile(s, base, stack) for s in subs])

    def _anyOf(self, subs: Any, schema: dict, base: str, stack: tuple) -> Check:
        compiled = [self.compile(s, base, stack) for s in subs]
        return lambda x: any(c(x) for c in compiled)

    def _oneOf(self, subs: Any, schema: dict, base: str, stack: tuple) -> Check:
        compiled = [self.compile(s, base, stack) for s in subs]
        return lambda x: sum(1 for c in compiled if c(x)) == 1

    def _not(self, s: Any, schema: dict, base: str, stack: tuple) -> Check:
        sub = self.compile(s, base, stack)
        return lambda x: not sub(x)

    def _if(self, s: Any, schema: dict, base: str, stack: tuple) -> Check:
        cond = self.compile(s, base, stack)
        then = self.compile(schema.get("then", True), base, stack)
        else_ = self.compile(schema.get("else", True), base, stack)
        return lambda x: then(x) if cond(x) else else_(x)


_ORDER = {kw: i for i, kw in enumerate(("type", "const", "enum", "required", "properties"))}
_ORDER.update({kw: 10 for kw in _DRAFT_2020_12_KEYWORDS if kw not in _ORDER})


def _always(x: Any) -> bool:
    return True


def _never(x: Any) -> bool:
    return False


def _all_of(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return lambda x: a(x) and b(x)
    if len(checks) == 3:
        a, b, c = checks
        return lambda x: a(x) and b(x) and c(x)
    if len(checks) == 4:
        a, b, c, d = checks
        return lambda x: a(x) and b(x) and c(x) and d(x)

    def every(x: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a plain loop is faster than all() here
            if not check(x):
                return False
        return True

    return every


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


_TYPES: dict[str, Check] = {
    "string": lambda x: isinstance(x, str),
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": _is_number,
    "integer": _is_integer,
}


# jsonschema's own equality and uniqueness rules (bool is not a number; deep for containers).


def equal(one: Any, two: Any) -> bool:
    """Equality as JSON Schema means it (``True != 1``), as jsonschema implements it."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(equal(i, j) for i, j in zip(one, two))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(k in two and equal(v, two[k]) for k, v in one.items())
    return _unbool(one) == _unbool(two)


_TRUE, _FALSE = object(), object()


def _unbool(x: Any) -> Any:
    if x is True:
        return _TRUE
    if x is False:
        return _FALSE
    return x


def uniq(container: list) -> bool:
    """True when all elements differ, by jsonschema's own algorithm."""
    try:
        ordered = sorted(_unbool(i) for i in container)
        for i, j in zip(ordered, itertools.islice(ordered, 1, None)):
            if equal(i, j):
                return False
    except (NotImplementedError, TypeError):
        seen: list = []
        for e in container:
            e = _unbool(e)
            for i in seen:
                if equal(i, e):
                    return False
            seen.append(e)
    return True
