"""JSON Schema checks, compiled once per schema.

Two checkers sit behind one interface. A small compiler turns each desk
schema into nested Python closures that only answer "valid or not" with the
exact semantics of jsonschema's ``Draft202012Validator`` for the keywords it
knows (about 20x faster than jsonschema, and it needs no import). Only a
record that fails it goes through jsonschema, which finds every error and
words the messages. A schema using a keyword the compiler does not know
(``unevaluatedProperties``, ``$dynamicRef``, ``multipleOf``...) is checked by
jsonschema alone, and so is every schema whose references the compiler cannot
resolve exactly as jsonschema does: another dialect's ``$schema`` anywhere, two
resources with one ``$id``, an ``$id`` that is empty or has a fragment, an
escaped JSON pointer. So the fast path can never accept what jsonschema
refuses; and when it refuses, jsonschema decides.

Patterns follow ECMA-262, as JSON Schema says, in both checkers: ``$`` ends the
string, where Python's ``$`` also matches before a final newline (``^x$`` would
accept ``"x\\n"``). :func:`ecma_regex` rewrites a pattern for Python's ``re``.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
    """The desk's schemas (draft 2020-12, cross-referenced by ``$id``), with compiled checkers per file.

    ``remotes`` are more documents ``$ref`` may name, by the URI they are
    retrieved from (the test suite's ``http://localhost:1234/...``); nothing is
    ever fetched from the network.
    """

    def __init__(self, schemas: dict[str, dict[str, Any]], remotes: Mapping[str, Any] | None = None):
        # A schema without an ``$id`` is known by its file name, the URI it is retrieved from next to
        # the others (SPEC section 2: ``$ref``s resolve from the files, offline, as check-jsonschema does).
        self.schemas = {name: {"$id": name, **s} if isinstance(s, dict) and "$id" not in s else s
                        for name, s in schemas.items()}
        self.remotes = dict(remotes or {})
        self._validators: dict[str, Any] = {}
        self._fast: dict[str, Check | None] = {}
        self._registry: Any = None

    def _validator(self, name: str) -> Any:
        v = self._validators.get(name)
        if v is None:
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT202012

            if self._registry is None:
                resources = [
                    (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012))
                    for s in self.schemas.values() if isinstance(s, dict) and "$id" in s
                ]
                registry = Registry().with_resources(resources)
                if self.remotes:
                    registry = registry.with_contents(self.remotes.items(), default_specification=DRAFT202012)
                self._registry = registry
            v = ecma_validator_class()(self.schemas[name], registry=self._registry)
            self._validators[name] = v
        return v

    def _fast_check(self, name: str) -> Check | None:
        if name not in self._fast:
            try:
                self._fast[name] = compile_schema(self.schemas[name], self.schemas.values(), self.remotes)
            except (Unsupported, re.error, RecursionError, TypeError, ValueError, KeyError, AttributeError, IndexError):
                self._fast[name] = None
        return self._fast[name]

    def fast(self, name: str) -> bool:
        """True when the compiled check handles this schema (jsonschema is consulted only for invalid data)."""
        return self._fast_check(name) is not None

    def _fast_accepts(self, name: str, instance: Any) -> bool:
        """True only when the compiled check runs and accepts; anything else is for jsonschema to decide."""
        check = self._fast_check(name)
        if check is None:
            return False
        try:
            return check(instance)
        except (TypeError, ValueError, RecursionError):  # an odd schema value (a string minLength): jsonschema decides
            return False

    def has(self, name: str) -> bool:
        """True when the desk has a schema file of this name."""
        return name in self.schemas

    def is_valid(self, name: str, instance: Any) -> bool:
        """True when ``instance`` satisfies the schema (fast; no messages).

        The compiled check may only say yes: what it refuses, jsonschema (the
        reference) decides, so ``is_valid`` is false exactly when
        :meth:`errors` is not empty.
        """
        check = self._fast_check(name)
        try:
            if check is not None and check(instance):  # inline, not _fast_accepts: this runs per record
                return True
        except (TypeError, ValueError, RecursionError):
            pass
        from referencing.exceptions import Unresolvable

        try:
            return self._validator(name).is_valid(instance)
        except Unresolvable:
            return False  # errors() says which reference

    def errors(self, name: str, instance: Any) -> list[SchemaError]:
        """Every schema violation of ``instance``, each with its path and a readable message."""
        if self._fast_accepts(name, instance):
            return []
        from jsonschema.exceptions import relevance
        from referencing.exceptions import Unresolvable

        validator = self._validator(name)
        out = []
        try:
            found = sorted(validator.iter_errors(instance), key=relevance)
        except Unresolvable as e:  # a $ref to nothing: no record can be checked against it, so none passes
            return [((), f"{name} cannot be checked: its $ref {e.ref!r} names no schema")]
        for error in found:
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


# The patterns of common.schema.json in words, for a desk whose schemas predate their x-pattern-help:
# a person is told what to type, never shown a regular expression.
PATTERN_WORDS = {
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?Z$":
        "an ISO 8601 UTC time such as '2026-12-10T17:00:00Z', quoted",
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "a date such as '2026-12-10', quoted",
    "^[a-z0-9][a-z0-9-]{0,62}$": "lower-case letters, digits and hyphens, e.g. 'vpn' or 'email-relay'",
    "^[A-Z]{2,5}-[0-9]{1,9}$": "an ID such as 'INC-0042'",
    "^[0-9]+(\\.[0-9]+)?[mhd]$": "a duration such as '30m', '4h' or '3d'",
}


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field")
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "pattern":
        field = _where(error.path) if error.path else "value"
        words = error.schema.get("x-pattern-help") or PATTERN_WORDS.get(error.validator_value)
        if words:
            return f"{field}: {error.instance!r} is not {words}"
        return f"{field}: {error.instance!r} does not have the expected form ({error.schema.get('description') or error.validator_value})"
    if error.validator == "const" and error.path:
        return f"{_where(error.path)}: must be {error.validator_value!r}, not {error.instance!r}"
    if error.path:
        return f"{_where(error.path)}: {error.message}"
    return error.message


# --- the compiler ---------------------------------------------------------------------------


class Unsupported(Exception):
    """The schema uses something the compiler does not do; jsonschema checks it instead."""


DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_OUR_DIALECT = frozenset({DRAFT_2020_12, DRAFT_2020_12 + "#"})  # the two spellings jsonschema maps to draft 2020-12

# Where draft 2020-12 (and, to be safe, older drafts) put subschemas: the
# places an embedded resource (a subschema with its own $id) can hide.
_ONE_SCHEMA = ("additionalItems", "additionalProperties", "contains", "contentSchema", "else", "if", "items", "not",
               "propertyNames", "then", "unevaluatedItems", "unevaluatedProperties")
_SCHEMA_LISTS = ("allOf", "anyOf", "items", "oneOf", "prefixItems")
_SCHEMA_MAPS = ("$defs", "definitions", "dependencies", "dependentSchemas", "patternProperties", "properties")


def compile_schema(schema: Any, resources: Iterable[Any] = (), remotes: Mapping[str, Any] | None = None) -> Check:
    """A validity check for ``schema`` equivalent to ``Draft202012Validator(schema).is_valid``.

    ``resources`` are the other schemas ``$ref`` may name by ``$id``;
    ``remotes`` more documents by the URI they are retrieved from. Raises
    :class:`Unsupported` for keywords it does not implement, for recursive
    references, and wherever resolving a reference could differ from
    jsonschema's: a ``$schema`` of another dialect (checked where the compiler
    goes), an ``$id`` that is not a non-empty string without a fragment, or
    names a second resource (checked in every document).
    """
    base = schema.get("$id", "") if isinstance(schema, dict) else ""
    if not isinstance(base, str):
        raise Unsupported("$id must be a string")
    documents: list[tuple[str, Any]] = [(base, schema)]
    documents += [(s["$id"], s) for s in resources if isinstance(s, dict) and "$id" in s]
    documents += list((remotes or {}).items())
    by_id: dict[str, Any] = {}
    for uri, doc in documents:
        if not isinstance(uri, str):
            raise Unsupported("$id must be a string")
        # A document of another dialect is never compiled (see _ref), but its
        # resources still take URIs in jsonschema's registry once it crawls.
        ours = not isinstance(doc, dict) or doc.get("$schema", DRAFT_2020_12) in _OUR_DIALECT
        for where, node in _resources_in(doc, uri, ours):
            if by_id.setdefault(where, node) is not node:
                raise Unsupported(f"two resources are {where!r}")
    return _Compiler(by_id).compile(schema, base, ())


def _resources_in(doc: Any, uri: str, ours: bool) -> Iterator[tuple[str, Any]]:
    """``(uri, node)`` for the document and every subschema in it with its own ``$id``.

    In a document of our dialect an ``$id`` that is not a non-empty string
    without a fragment is :class:`Unsupported`; in another dialect's (where
    ``"$id": "#foo"`` is an anchor and draft 4 says ``id``) it is only skipped.
    """
    yield uri, doc
    stack = [(doc, uri)]
    while stack:
        node, base = stack.pop()
        if not isinstance(node, dict):
            continue
        for key in ("$id",) if ours else ("$id", "id"):
            if key not in node:
                continue
            ident = node[key]
            if not isinstance(ident, str) or not ident or "#" in ident:
                if ours:
                    raise Unsupported(f"$id must be a non-empty string without a fragment, not {ident!r}")
                continue
            base = urljoin(base, ident)
            if node is not doc:
                yield base, node
        subs: list[Any] = [node[k] for k in _ONE_SCHEMA if k in node]
        subs += [s for k in _SCHEMA_LISTS if isinstance(node.get(k), list) for s in node[k]]
        subs += [s for k in _SCHEMA_MAPS if isinstance(node.get(k), dict) for s in node[k].values()]
        stack += [(sub, base) for sub in subs if isinstance(sub, dict)]


def _dialect_is_ours(node: dict) -> None:
    if "$schema" in node and node["$schema"] not in _OUR_DIALECT:
        raise Unsupported(f"$schema {node['$schema']!r}: another dialect is for jsonschema")


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
        _dialect_is_ours(schema)  # jsonschema switches to that dialect's validator for this subschema
        if "$id" in schema:
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
        if "%" in fragment or "~" in fragment:
            raise Unsupported("an escaped JSON pointer")  # jsonschema unquotes and unescapes: leave that to it
        node = doc
        if isinstance(node, dict):
            _dialect_is_ours(node)  # a draft-07 file's $defs are draft-07 schemas
        for part in fragment.split("/")[1:]:
            node = node[int(part)] if isinstance(node, list) else node[part]
            if isinstance(node, dict):
                if "$id" in node:
                    raise Unsupported("$ref into a subschema with its own $id")
                _dialect_is_ours(node)
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
        search = ecma_search(pattern)
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
        search = ecma_search(joined) if joined else None

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
        compiled = [(ecma_search(p), self.compile(s, base, stack)) for p, s in pp.items()]

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


# --- ECMA-262 patterns ----------------------------------------------------------------------


# ECMA-262's classes are narrower than Python's for str patterns: \d and \w are
# ASCII only, and \s is its own list (with U+FEFF, without U+001C-U+001F, U+0085).
_ECMA_WHITESPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_ECMA_CLASSES = {"d": "0-9", "w": "A-Za-z0-9_", "s": _ECMA_WHITESPACE}


def ecma_regex(pattern: str) -> str:
    """``pattern`` (ECMA-262, as JSON Schema's ``pattern`` is) rewritten for Python's ``re``.

    ``$`` in Python also matches before a final newline, so ``$`` outside a
    character class becomes ``\\Z`` (the very end); an escaped ``\\$`` and a
    ``$`` inside ``[...]`` stay literal. ``\\d``, ``\\w`` and ``\\s`` become
    ECMA-262's own sets (``\\D``, ``\\W``, ``\\S`` too, outside a class).
    A class is read as Python reads it (a ``]`` right after ``[`` or ``[^`` is a
    member), because Python runs it. What Python cannot run (``\\p{L}``,
    ``\\cX``) still fails to compile, as it did.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            pair = pattern[i:i + 2]
            letter = pair[1:]
            if letter in _ECMA_CLASSES:
                pair = _ECMA_CLASSES[letter] if in_class else f"[{_ECMA_CLASSES[letter]}]"
            elif letter.lower() in _ECMA_CLASSES and not in_class:
                pair = f"[^{_ECMA_CLASSES[letter.lower()]}]"
            out.append(pair)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a literal ], not the end of the class
                out.append("]")
                i += 1
            continue
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def ecma_search(pattern: str) -> Callable[[str], Any]:
    """The ``search`` method of ``pattern`` compiled with ECMA-262's ``$`` (see :func:`ecma_regex`)."""
    return re.compile(ecma_regex(pattern)).search


def _ecma_pattern(validator: Any, patrn: Any, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not ecma_search(patrn)(instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _ecma_pattern_properties(validator: Any, pp: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pp.items():
        search = ecma_search(pattern)
        for k, v in instance.items():
            if search(k):
                yield from validator.descend(v, subschema, path=k, schema_path=pattern)


def _ecma_additional_properties(validator: Any, ap: Any, instance: Any, schema: Any) -> Iterator[Any]:
    # jsonschema's own keyword, with its messages, but matching patternProperties the ECMA way.
    from jsonschema._utils import extras_msg
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    joined = "|".join(schema.get("patternProperties", {}))
    search = ecma_search(joined) if joined else None
    extras = {k for k in instance if k not in properties and not (search is not None and search(k))}
    if validator.is_type(ap, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], ap, path=extra)
    elif not ap and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            joined_extras = ", ".join(repr(each) for each in sorted(extras))
            patterns = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
            yield ValidationError(f"{joined_extras} {verb} not match any of the regexes: {patterns}")
        else:
            listed, verb = extras_msg(sorted(extras, key=str))
            yield ValidationError(f"Additional properties are not allowed ({listed} {verb} unexpected)")


@functools.cache
def ecma_validator_class() -> Any:
    """``Draft202012Validator`` with ECMA-262 patterns: the jsonschema every check of the project uses.

    jsonschema switches validator class where a subschema or a referenced
    resource names its ``$schema``; the classes it switches to are given the
    same patterns, so ``$`` means one thing wherever jsonschema looks.
    """
    import attrs
    import jsonschema
    from jsonschema import _keywords, validators

    ours = {"pattern": _ecma_pattern, "patternProperties": _ecma_pattern_properties,
            "additionalProperties": _ecma_additional_properties}
    stock = {"pattern": _keywords.pattern, "patternProperties": _keywords.patternProperties,
             "additionalProperties": _keywords.additionalProperties}
    ecma: dict[type, Any] = {}
    for cls in (jsonschema.Draft202012Validator, jsonschema.Draft201909Validator, jsonschema.Draft7Validator,
                jsonschema.Draft6Validator, jsonschema.Draft4Validator, jsonschema.Draft3Validator):
        replaced = {k: f for k, f in ours.items() if cls.VALIDATORS.get(k) is stock[k]}
        ecma[cls] = validators.extend(cls, replaced)

    def switching(stock_evolve: Callable) -> Callable:
        def evolve(self: Any, **changes: Any) -> Any:
            new = stock_evolve(self, **changes)
            swap = ecma.get(type(new))
            if swap is None:
                return new
            return swap(**{f.alias: getattr(new, f.name) for f in attrs.fields(type(new)) if f.init})

        return evolve

    for cls in ecma.values():
        cls.evolve = switching(cls.evolve)
    return ecma[jsonschema.Draft202012Validator]
