"""Hypothesis strategies shared by the loader/writer tests (store/test_yaml_io.py) and the validator fuzzing
(test_properties.py): scalars YAML 1.1 and people misread, nested values, YAML-ish text. Imported by name."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Strings YAML 1.1 (and people) misread: each must survive as the very same string.
TRICKY = [
    "no", "No", "NO", "yes", "on", "off", "y", "n", "true", "True", "false", "null", "Null", "~", "", " ", "  ",
    "0755", "0o755", "0x1F", "1:30", "1_000", "2026-01-01", "2026-01-01T09:00:00Z", "1e3", "1.0e+3", ".inf", "-.inf",
    ".nan", "+1", "-0", "0.", ".5", "=", "<<", "*alias", "&anchor", "!tag", "!!str x", "%YAML", "@", "`", "|", ">",
    "- item", "? key", "key: value", "a #comment", "#comment", "---", "...", "'", '"', "'quoted'", '"quoted"',
    "trailing ", " leading", "tab\tinside", "line\nbreak", "ends with newline\n", "\n", "\r\n", "crlf\r\nline",
    "multi\nline\n\ntext\n", "  indented\nblock", "\ufeffbom", "nel\x85line", "ls\u2028ps\u2029", "\x1b[31mred",
    "nul\x00byte", "bell\x07", "é ü 中文 🎉", "\U0001f600", "9" * 150, "[1, 2]", "{a: b}", ",", "a,b", "[", "{",
]

keys = st.one_of(st.sampled_from(TRICKY), st.text(max_size=20))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(TRICKY),
    st.text(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=30,
)
records = st.dictionaries(keys, values, max_size=12)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same(a: object, b: object) -> bool:
    """Equal, with -0.0 and 0.0 told apart (a writer that loses the sign would change bytes)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    return a == b


# Text made of YAML's own punctuation, to reach the parser's corners.
YAMLISH = st.text(alphabet=st.sampled_from([*list("abc019 :-?[]{},&*!|>'\"%@`#~\n\t.<=\\"), "\x00", "é", "\ufeff"]),
                  max_size=200)
