"""The compiled schema check (itsm_cli/core/schema.py): never a yes where jsonschema says no.

- The official JSON-Schema-Test-Suite (draft 2020-12, vendored in
  tests/data/json-schema-test-suite) through both checkers: wherever the
  compiler takes a schema it answers as the suite does, and the set as a whole
  answers as jsonschema does.
- A differential property test: mutated records of the demo desk, checked by
  the compiled check and by jsonschema, get the same answer.
- Every way the compiler was fooled (issue 16) is a regression test here: it
  now leaves those schemas to jsonschema, and ``errors()`` is empty exactly
  when ``is_valid`` is true.
- Patterns follow ECMA-262 in both checkers (``$`` is the very end).
"""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm_cli.core.schema import SchemaSet, ecma_regex
from itsm_cli.store.desk import Desk, kind_of_path

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "tests/data/json-schema-test-suite"
D2020 = "https://json-schema.org/draft/2020-12/schema"
D2019 = "https://json-schema.org/draft/2019-09/schema"
D7 = "http://json-schema.org/draft-07/schema#"
D4 = "http://json-schema.org/draft-04/schema#"
EX = "https://example.com/"


def desk_schemas(folder: Path) -> dict[str, Any]:
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.schema.json"))}


# --- the official test suite ----------------------------------------------------------------


def suite_remotes() -> dict[str, Any]:
    """The suite's remote documents by their ``http://localhost:1234/...`` URI, as jsonschema's own runner loads them.

    Files under another draft's folder without a ``$schema`` are meant for
    that draft only (the suite mixes them in), so they are left out.
    """
    out = {}
    folder = SUITE / "remotes"
    for path in sorted(folder.rglob("*.json")):
        rel = path.relative_to(folder).as_posix()
        doc = json.loads(path.read_text())
        if "$schema" not in doc and rel.startswith("draft") and not rel.startswith("draft2020-12/"):
            continue
        out[f"http://localhost:1234/{rel}"] = doc
    return out


# optional/ files the project runs: the behaviour of the required keywords (bignum, ids, unknown keywords, anchors,
# a $ref to a 2019-09 file) and ECMA-262 patterns. Left out: format/ (the desk asserts no format) and
# dependencies-compatibility, format-assertion (draft-07 keywords and custom vocabularies jsonschema's 2020-12 does
# not implement either).
OPTIONAL = ("anchor", "bignum", "cross-draft", "dynamicRef", "ecmascript-regex", "float-overflow", "id", "no-schema",
            "non-bmp-regex", "refOfUnknownKeyword", "unknownKeyword")

# Where jsonschema (the reference) answers otherwise than the suite: there the set must answer as jsonschema does.
JSONSCHEMA_DIFFERS = {("vocabulary.json", "schema that uses custom metaschema with with no validation vocabulary",
                       "no validation: invalid number, but it still validates")}

REMOTES = suite_remotes()


def suite_cases() -> list[Any]:
    files = sorted((SUITE / "draft2020-12").glob("*.json"))
    files += [SUITE / "draft2020-12/optional" / f"{name}.json" for name in OPTIONAL]
    out = []
    for path in files:
        for i, case in enumerate(json.loads(path.read_text())):
            rel = path.relative_to(SUITE / "draft2020-12").as_posix()
            out.append(pytest.param(rel, case, id=f"{rel}:{i}"))
    return out


@pytest.mark.parametrize(("rel", "case"), suite_cases())
def test_the_official_suite(rel: str, case: dict[str, Any]) -> None:
    schemas = SchemaSet({"case": case["schema"]}, REMOTES)
    fast = schemas._fast_check("case")
    for test in case["tests"]:
        data, expected = test["data"], test["valid"]
        try:
            reference = schemas._validator("case").is_valid(data)
        except re.error:  # \p{L}, \cX: Python's re cannot run the pattern, so neither checker can
            assert fast is None
            continue
        if fast is not None:
            assert fast(data) == expected, test["description"]
        if (Path(rel).name, case["description"], test["description"]) in JSONSCHEMA_DIFFERS:
            assert reference != expected
            expected = reference
        assert schemas.is_valid("case", data) == reference == expected, test["description"]
        assert (schemas.errors("case", data) == []) == expected, test["description"]


def test_the_compiler_takes_most_of_the_suite() -> None:
    # The suite must exercise the compiled path, not only the fallback.
    taken = sum(SchemaSet({"case": p.values[1]["schema"]}, REMOTES).fast("case") for p in suite_cases())
    assert taken > 200, taken


def test_suite_remotes_never_go_to_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a remote $ref went to the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    schema = {"$schema": D2020, "$ref": "http://localhost:1234/draft2020-12/integer.json"}
    schemas = SchemaSet({"s": schema}, REMOTES)
    assert schemas.fast("s")
    assert schemas.is_valid("s", 1)
    assert not schemas.is_valid("s", "a")
    assert schemas._validator("s").is_valid(1) and not schemas._validator("s").is_valid("a")


# --- every way the compiler was fooled (issue 16) -------------------------------------------

# (schemas, the one checked, instance, jsonschema's answer). Before the fix the compiler accepted each invalid
# instance here, and for the 2019-09 reference it refused a valid one while errors() was empty.
FOOLED = {
    "ref-to-draft-07": ({"a": {"$schema": D2020, "$id": EX + "a", "$ref": "b"},
                         "b": {"$schema": D7, "$id": EX + "b", "dependencies": {"a": ["b"]}}}, "a", {"a": 1}, False),
    "ref-to-draft-04": ({"a": {"$schema": D2020, "$id": EX + "a", "$ref": "b"},
                         "b": {"$schema": D4, "id": EX + "b", "$id": EX + "b", "dependencies": {"a": ["b"]}}},
                        "a", {"a": 1}, False),
    "ref-into-a-draft-07-file": ({"a": {"$schema": D2020, "$id": EX + "a", "$ref": "b#/$defs/d"},
                                  "b": {"$schema": D7, "$id": EX + "b",
                                        "$defs": {"d": {"$schema": D7, "dependencies": {"a": ["b"]}}}}},
                                 "a", {"a": 1}, False),
    "$schema-in-a-subschema": ({"a": {"$schema": D2020, "$id": EX + "a",
                                      "properties": {"p": {"$schema": D7, "dependencies": {"a": ["b"]}}}}},
                               "a", {"p": {"a": 1}}, False),
    "$schema-in-a-$def": ({"a": {"$schema": D2020, "$id": EX + "a", "$ref": "#/$defs/d",
                                 "$defs": {"d": {"$schema": D7, "dependencies": {"a": ["b"]}}}}}, "a", {"a": 1}, False),
    "two-files-one-$id": ({"a": {"$schema": D2020, "$id": EX + "a", "$ref": "#/$defs/x",
                                 "$defs": {"x": {"type": "string"}}},
                           "b": {"$schema": D2020, "$id": EX + "a", "$defs": {"x": {"type": "integer"}}}},
                          "a", 1, False),
    "$id-with-a-fragment": ({"a": {"$schema": D2020, "$id": EX + "a", "$ref": "#/$defs/x",
                                   "$defs": {"x": {"type": "string"}}},
                             "b": {"$schema": D2020, "$id": EX + "a#frag", "$defs": {"x": {"type": "integer"}}}},
                            "a", 1, False),
    "percent-encoded-pointer": ({"a": {"$schema": D2020, "$id": EX + "a", "$ref": "#/$defs/a%25b",
                                       "$defs": {"a%b": {"type": "string"}, "a%25b": {"type": "integer"}}}},
                                "a", 1, False),
    "empty-$id": ({"a": {"$schema": D2020, "$ref": "#/$defs/x", "$defs": {"x": {"type": "string"}}},
                   "b": {"$schema": D2020, "$id": "", "$defs": {"x": {"type": "integer"}}}}, "a", 1, False),
    "ref-to-2019-09": ({"a": {"$schema": D2020, "$id": EX + "a", "$ref": "b"},
                        "b": {"$schema": D2019, "$id": EX + "b", "prefixItems": [{"type": "string"}]}}, "a", [1], True),
}


@pytest.mark.parametrize("label", list(FOOLED))
def test_what_fooled_the_compiler_goes_to_jsonschema(label: str) -> None:
    schemas, name, instance, valid = FOOLED[label]
    s = SchemaSet(copy.deepcopy(schemas))
    assert s.is_valid(name, instance) == valid
    assert (s.errors(name, instance) == []) == valid
    assert not s.fast(name)
    assert s._validator(name).is_valid(instance) == valid  # jsonschema is the reference


def test_escaped_pointers_go_to_jsonschema() -> None:
    # ~1 is "/": jsonschema unescapes it, and so the compiler leaves it to jsonschema.
    s = SchemaSet({"a": {"$schema": D2020, "$id": EX + "a", "$ref": "#/$defs/a~1b", "$defs": {"a/b": {"type": "string"}}}})
    assert not s.fast("a")
    assert s.is_valid("a", "x")
    assert not s.is_valid("a", 1)
    assert s.errors("a", 1) == [((), "1 is not of type 'string'")]


def test_a_ref_to_nothing_is_an_error_not_a_crash() -> None:
    s = SchemaSet({"a": {"$schema": D2020, "$id": EX + "a", "$ref": "missing#/$defs/x"}})
    assert not s.is_valid("a", 1)
    assert s.errors("a", 1) == [((), "a cannot be checked: its $ref 'missing#/$defs/x' names no schema")]


def test_schemas_the_compiler_cannot_do_go_to_jsonschema() -> None:
    odd = {"$schema": D2020, "$id": "https://example.com/odd.json",
           "type": "object", "unevaluatedProperties": False,
           "properties": {"a": {"type": "integer", "multipleOf": 3}}}
    schemas = SchemaSet({"odd.json": odd})
    assert not schemas.fast("odd.json")
    assert schemas.is_valid("odd.json", {"a": 3})
    assert not schemas.is_valid("odd.json", {"a": 4})
    assert not schemas.is_valid("odd.json", {"b": 1})
    assert schemas.errors("odd.json", {"a": 4})


def test_when_the_compiler_is_too_strict_jsonschema_decides() -> None:
    # A compiled check that says no is only a hint: is_valid and errors() ask jsonschema.
    s = SchemaSet({"a": {"$schema": D2020, "$id": EX + "a", "type": "string"}})
    s._fast["a"] = lambda x: False
    assert s.is_valid("a", "text")
    assert s.errors("a", "text") == []


# --- ECMA-262 patterns ------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "python"), [
    ("^x$", r"^x\Z"),
    (r"^a\$$", r"^a\$\Z"),
    ("[$]$", r"[$]\Z"),
    ("[]$]", "[]$]"),
    ("[^]$]$", r"[^]$]\Z"),
    (r"[\]$]", r"[\]$]"),
    (r"^\d{2}$", r"^[0-9]{2}\Z"),
    (r"[\w-]", "[A-Za-z0-9_-]"),
    (r"\D\W", "[^0-9][^A-Za-z0-9_]"),
    ("(a|b$)", r"(a|b\Z)"),
])
def test_ecma_patterns_for_python(pattern: str, python: str) -> None:
    assert ecma_regex(pattern) == python


def _pattern_schemas(keyword: str) -> dict[str, Any]:
    if keyword == "pattern":
        body: dict[str, Any] = {"properties": {"t": {"pattern": "^x$"}}}
    elif keyword == "patternProperties":
        body = {"properties": {"t": {"patternProperties": {"^x$": False}}}}
    else:
        body = {"properties": {"t": {"patternProperties": {"^x$": True}, "additionalProperties": False}}}
    return {"a": {"$schema": D2020, "$id": EX + "a", **body}}


@pytest.mark.parametrize("keyword", ["pattern", "patternProperties", "additionalProperties"])
def test_dollar_is_the_end_of_the_string_in_both_checkers(keyword: str) -> None:
    s = SchemaSet(_pattern_schemas(keyword))
    good, bad = ("x", "x\n") if keyword != "patternProperties" else ({"x\n": 1}, {"x": 1})
    if keyword == "additionalProperties":
        good, bad = {"x": 1}, {"x\n": 1}
    assert s.fast("a")
    check = s._fast_check("a")
    jsonschema = s._validator("a")
    assert check({"t": good}) and jsonschema.is_valid({"t": good})
    assert not check({"t": bad})
    assert not jsonschema.is_valid({"t": bad})
    assert not s.is_valid("a", {"t": bad}) and s.errors("a", {"t": bad})


def test_title_with_a_trailing_newline_is_refused_by_the_desk_schemas() -> None:
    s = SchemaSet(desk_schemas(REPO / "schemas"))
    common = s.schemas["common.schema.json"]
    assert common["$defs"]["record_id"]["pattern"].endswith("$")
    record = _demo_records()[0]
    bad = copy.deepcopy(record[1])
    bad["id"] = bad["id"] + "\n"
    assert not s.is_valid(record[0], bad)
    assert not s._validator(record[0]).is_valid(bad)
    assert any(path == ("id",) for path, _ in s.errors(record[0], bad))


@pytest.mark.parametrize("dialect", [D2020, D7])
def test_jsonschema_keeps_ecma_patterns_where_a_subschema_names_its_dialect(dialect: str) -> None:
    # jsonschema switches validator class at a $schema; the class it switches to must match the same way.
    s = SchemaSet({"a": {"$schema": D2020, "$id": EX + "a", "properties": {"p": {"$schema": dialect, "pattern": "^x$"}},
                         "$ref": "b"},
                   "b": {"$schema": dialect, "$id": EX + "b", "properties": {"q": {"pattern": "^y$"}}}})
    v = s._validator("a")
    assert v.is_valid({"p": "x", "q": "y"})
    assert not v.is_valid({"p": "x\n"})
    assert not v.is_valid({"q": "y\n"})


def test_every_jsonschema_validator_of_the_project_is_the_ecma_one() -> None:
    # A validator built anywhere else would use Python's $ again.
    found = []
    for path in sorted((REPO / "itsm_cli").rglob("*.py")):
        if path.name == "schema.py" and path.parent.name == "core":
            continue
        text = path.read_text()
        found += [f"{path}: {m}" for m in re.findall(r"Draft\d+Validator|validator_for|jsonschema\.validate\b", text)]
    assert found == []


# --- the demo desk: fast, and the same answers as jsonschema ----------------------------------


def _demo_records() -> list[tuple[str, dict[str, Any]]]:
    """(schema name, data) of every record of the demo desk, found by globbing (the tickets layout may nest)."""
    desk = Desk(REPO)
    out = []
    for folder, suffix in (("tickets", "yaml"), ("catalog", "yaml"), ("kb", "md")):
        for path in sorted((REPO / folder).glob(f"**/*.{suffix}")):
            rel = path.relative_to(REPO).as_posix()
            if kind_of_path(rel) is None:
                continue
            record = desk.load(rel)
            out.append((desk.config.types[record.type_name].schema, record.data))
    out.append(("config.schema.json", desk.config_data))
    return out


@pytest.mark.parametrize("folder", ["schemas", "itsm_cli/data/schemas"])
def test_the_desk_schemas_take_the_fast_path(folder: str) -> None:
    s = SchemaSet(desk_schemas(REPO / folder))
    assert len(s.schemas) >= 8
    assert {name: s.fast(name) for name in s.schemas} == dict.fromkeys(s.schemas, True)


def test_the_demo_desk_validates_without_jsonschema() -> None:
    s = SchemaSet(desk_schemas(REPO / "schemas"))

    def no_jsonschema(name: str) -> Any:
        raise AssertionError(f"{name} went to jsonschema")

    s._validator = no_jsonschema  # type: ignore[method-assign]
    records = _demo_records()
    assert len(records) > 50
    for name, data in records:
        assert s.is_valid(name, data), data.get("id")
        assert s.errors(name, data) == []


VALUES = [None, True, False, 0, 1, 1.0, 1.5, -3, "", "x", "P1", "P10", "2026-01-01T00:00:00Z", "2026-01-01", "a@b",
          "a b@c", "INC-1", "inc-1", "x" * 201, "line\nbreak", "ok\n", "INC-0001\n", "P1\n", "2026-01-01\n", "email\n",
          "a@b\n", "٣", "P٣", [], [1], ["a", "a"], ["a", "b"], {}, {"kind": "relates", "id": "INC-0001"},
          {"x": 1}, [True, 1], [1, 1.0], "standard", "low"]
KEYS = ["zzz", "type", "status", "links", "tags", "approval", "count", "id", "title\n"]


def _mutate(x: Any, rng: random.Random) -> None:
    if isinstance(x, dict) and x:
        k = rng.choice(list(x))
        r = rng.random()
        if r < 0.15:
            del x[k]
        elif r < 0.25:
            x[rng.choice(KEYS)] = copy.deepcopy(rng.choice(VALUES))
        elif r < 0.55 and isinstance(x[k], (dict, list)):
            _mutate(x[k], rng)
        elif r < 0.65 and isinstance(x[k], str):
            x[k] += rng.choice(["\n", "\r", " ", "x", "٣"])
        else:
            x[k] = copy.deepcopy(rng.choice(VALUES))
    elif isinstance(x, list) and x:
        i = rng.randrange(len(x))
        r = rng.random()
        if r < 0.2:
            x.append(copy.deepcopy(x[i]))
        elif r < 0.3:
            del x[i]
        elif r < 0.7 and isinstance(x[i], (dict, list)):
            _mutate(x[i], rng)
        else:
            x[i] = copy.deepcopy(rng.choice(VALUES))


DEMO = _demo_records()
DEMO_SCHEMAS = SchemaSet(desk_schemas(REPO / "schemas"))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(min_value=0, max_value=len(DEMO) - 1), seed=st.integers(), steps=st.integers(1, 4))
def test_mutated_demo_records_get_the_same_answer_from_both_checkers(which: int, seed: int, steps: int) -> None:
    name, data = DEMO[which]
    x = copy.deepcopy(data)
    rng = random.Random(seed)
    for _ in range(steps):
        _mutate(x, rng)
    check = DEMO_SCHEMAS._fast_check(name)
    assert check is not None
    reference = DEMO_SCHEMAS._validator(name).is_valid(x)
    assert check(x) == reference, (name, x)
    assert DEMO_SCHEMAS.is_valid(name, x) == reference
    assert (DEMO_SCHEMAS.errors(name, x) == []) == reference


def test_many_mutated_demo_records_agree() -> None:
    # The seeded sweep that was in test_cache.py, over the demo desk: many more cases than hypothesis runs.
    rng = random.Random(3)
    wrong = []
    for _ in range(3000):
        name, data = rng.choice(DEMO)
        x = copy.deepcopy(data)
        for _ in range(rng.randint(1, 3)):
            _mutate(x, rng)
        reference = DEMO_SCHEMAS._validator(name).is_valid(x)
        if DEMO_SCHEMAS._fast_check(name)(x) != reference or (DEMO_SCHEMAS.errors(name, x) == []) != reference:
            wrong.append((name, x))
    assert wrong == []
