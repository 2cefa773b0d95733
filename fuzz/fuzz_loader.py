"""Coverage-guided fuzz target for itsm's one YAML loader (``yaml_io.load_bytes``).

The loader must, for any bytes at all, either return data or raise
``InvalidRecord`` -- never another exception, never a hang, never a crash of
the interpreter (libyaml is C: deep nesting once segfaulted PyYAML's composer).
Whatever it returns must also survive the writer: ``dumps`` then ``loads``
gives the same data back.

Not part of the test suite and not a dependency. To run it (Linux, CPython
3.11+; atheris builds against the interpreter's libFuzzer)::

    pip install atheris
    mkdir -p fuzz/corpus && cp tickets/*/*/*.yaml fuzz/corpus/ 2>/dev/null
    python fuzz/fuzz_loader.py fuzz/corpus -max_len=4096 -timeout=5 -rss_limit_mb=1024

``-timeout`` turns a slow input into a finding (the loader should refuse an
alias bomb in milliseconds); ``-runs=100000`` bounds a CI run. A crash writes
``crash-<sha1>`` to the current folder; replay it with
``python fuzz/fuzz_loader.py crash-<sha1>`` and turn it into a case in
``tests/test_hostile.py`` or ``tests/test_properties.py`` once fixed.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from itsm_cli.errors import InvalidRecord
    from itsm_cli.store import yaml_io


def test_one_input(data: bytes) -> None:
    """Load ``data``; anything but data or InvalidRecord is a finding."""
    try:
        value = yaml_io.load_bytes(data, "fuzz.yaml")
    except InvalidRecord as e:
        if "\n" in str(e):
            raise AssertionError(f"a refusal must be one line: {e!r}") from None
        return
    try:
        text = yaml_io.dumps(value)
    except InvalidRecord:
        return  # the writer refuses what it could not read back (e.g. a 101-character number)
    again = yaml_io.loads(text, "fuzz.yaml")
    if again != value and value == value:  # NaN cannot be read, so value == value always holds here
        raise AssertionError(f"round trip changed the data: {value!r} -> {again!r}")


def main() -> None:
    """Run the fuzzer with libFuzzer's command-line options."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
