"""Unit tests of store/file_text.py: the rules every reader applies, without PyYAML.

The rules themselves (limits, UTF-8, plain scalars, front matter) are exercised through the loader in
tests/store/test_yaml_io.py; here, that they are the loader's very rules and need no YAML library.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from itsm_cli.errors import InvalidRecord
from itsm_cli.store import file_text, yaml_io


def test_importing_it_loads_no_yaml(tmp_path: Path) -> None:
    code = "import sys, itsm_cli.store.file_text\nprint(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    modules = set(done.stdout.split())
    assert "itsm_cli.store.file_text" in modules and "yaml" not in modules


def test_the_loader_applies_these_very_rules() -> None:
    for name in ("MAX_BYTES", "MAX_NUMBER_CHARS", "decode", "resolve_plain", "split_front_matter"):
        assert getattr(yaml_io, name) is getattr(file_text, name), name


@pytest.mark.parametrize("word", sorted(file_text.PLAIN_WORDS))
def test_every_special_word_resolves_to_something_else(word: str) -> None:
    """The loader skips resolve_plain for words outside PLAIN_WORDS that start outside NUMBER_START: keep in step."""
    assert file_text.resolve_plain(word) in (None, True, False)


def test_plain_text_outside_the_special_words_and_number_starts_stays_text() -> None:
    for text in ("no", "yes", "on", "~x", "nullx", "Ok", "x1", ".5"):
        assert text not in file_text.PLAIN_WORDS and text[0] not in file_text.NUMBER_START
        assert file_text.resolve_plain(text) == text


def test_decode_names_the_line_and_column_of_a_bad_byte() -> None:
    with pytest.raises(InvalidRecord) as caught:
        file_text.decode(b"a: 1\nb: \xff\n", "x.yaml")
    assert (caught.value.line, caught.value.col) == (2, 4)
    assert file_text.decode(b"\xef\xbb\xbfa: 1\n", "x.yaml") == "a: 1\n"  # a BOM is dropped


def test_text_that_only_starts_like_a_number_stays_text() -> None:
    for text in ("2026-01-01", "1:30", "0755", "+", "-", "1e5x", "１２"):
        assert file_text.resolve_plain(text) == text, text
    assert file_text.resolve_plain("-12") == -12 and file_text.resolve_plain("1.5e3") == 1500.0
