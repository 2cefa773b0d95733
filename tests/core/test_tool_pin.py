"""The pin a desk's workflows install, chosen from facts about the running itsm, and the unpinned-install rule (no pip)."""

from __future__ import annotations

from pathlib import Path

import pytest

from itsm_cli.core.tool_pin import (
    CHECKOUT_COMMENT,
    DESK_COMMENT,
    PLACEHOLDER,
    Pin,
    checkout_pin,
    choose_pin,
    given_pin,
    read_pin,
    rewrite_install,
    unpinned,
    unpinned_installs,
    wheel_file_name,
)

SKELETON = Path(__file__).resolve().parents[2] / "itsm_cli" / "data" / "skeleton" / ".github" / "workflows"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
WHEEL = Pin("wheel", "./.itsm/dist/itsm-1.2.3-py3-none-any.whl", "carried", "ab" * 32)


# --- choosing the source ------------------------------------------------------------


def test_no_direct_url_means_the_index_and_an_exact_version() -> None:
    pin = choose_pin("1.2.3", None, "/site-packages/itsm_cli")
    assert (pin.source, pin.requirement) == ("index", "itsm==1.2.3")
    assert "package index" in pin.reason and "direct_url.json" in pin.reason


def test_a_git_install_pins_the_url_at_its_commit() -> None:
    facts = {"url": "https://github.com/acme/itsm.git",
             "vcs_info": {"vcs": "git", "commit_id": COMMIT, "requested_revision": "main"}}
    pin = choose_pin("1.2.3", facts, "x")
    assert pin.source == "vcs"
    assert pin.requirement == f"itsm @ git+https://github.com/acme/itsm.git@{COMMIT}"  # the commit, never "main"
    assert COMMIT[:12] in pin.reason


def test_a_git_install_from_a_subdirectory_keeps_it() -> None:
    facts = {"url": "https://example.org/mono.git", "subdirectory": "tools/itsm",
             "vcs_info": {"vcs": "git", "commit_id": COMMIT}}
    assert choose_pin("1", facts, "x").requirement == f"itsm @ git+https://example.org/mono.git@{COMMIT}#subdirectory=tools/itsm"


@pytest.mark.parametrize("facts, why", [
    ({"url": "https://user:token@github.com/acme/itsm.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT}}, "credentials"),
    ({"url": "file:///home/me/itsm", "vcs_info": {"vcs": "git", "commit_id": COMMIT}}, "local repository"),
    ({"url": "https://github.com/acme/itsm.git", "vcs_info": {"vcs": "git", "commit_id": "main"}}, "without a commit"),
    ({"url": "file:///home/me/itsm", "dir_info": {"editable": True}}, "editable install of /home/me/itsm"),
    ({"url": "file:///home/me/itsm", "dir_info": {}}, "installed from /home/me/itsm"),
    ({"url": "file:///tmp/itsm-1.2.3-py3-none-any.whl", "archive_info": {"hashes": {"sha256": "cd" * 32}}},
     "installed from /tmp/itsm-1.2.3-py3-none-any.whl"),
])
def test_what_no_git_host_can_fetch_is_carried_as_a_wheel(facts: dict, why: str) -> None:
    pin = choose_pin("1.2.3", facts, "x")
    assert pin.source == "wheel"
    assert pin.requirement == "./.itsm/dist/itsm-1.2.3-py3-none-any.whl"
    assert why in pin.reason and "carries a wheel" in pin.reason
    assert "token" not in pin.requirement + pin.reason


def test_ssh_user_git_is_not_a_credential() -> None:
    facts = {"url": "ssh://git@github.com/acme/itsm.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT}}
    assert choose_pin("1", facts, "x").requirement == f"itsm @ git+ssh://git@github.com/acme/itsm.git@{COMMIT}"


def test_a_remote_archive_with_its_hash_is_pinned_by_it() -> None:
    facts = {"url": "https://files.example.org/itsm-1.2.3.tar.gz", "archive_info": {"hash": "sha256=" + "ef" * 32}}
    pin = choose_pin("1.2.3", facts, "x")
    assert (pin.source, pin.requirement) == ("archive", "itsm @ https://files.example.org/itsm-1.2.3.tar.gz#sha256=" + "ef" * 32)


def test_code_not_installed_at_all_is_carried() -> None:
    pin = choose_pin("1.2.3", None, "/src/itsm", installed=False)
    assert pin.source == "wheel" and "/src/itsm" in pin.reason and "not installed" in pin.reason


def test_given_spec_is_written_as_given_and_must_be_one_line() -> None:
    assert given_pin(" itsm @ git+https://x/y@v1 ").requirement == "itsm @ git+https://x/y@v1"
    for bad in ("", "itsm\nrm -rf /"):
        with pytest.raises(ValueError):
            given_pin(bad)


def test_wheel_file_name() -> None:
    assert wheel_file_name("1.2.3") == "itsm-1.2.3-py3-none-any.whl"
    assert wheel_file_name("1.0-dev") == "itsm-1.0_dev-py3-none-any.whl"


# --- the workflow text --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in SKELETON.glob("*.yml")))
@pytest.mark.parametrize("pin", [Pin("index", "itsm==1.2.3", "r"), WHEEL, checkout_pin(),
                                 Pin("vcs", f"itsm @ git+https://github.com/acme/itsm.git@{COMMIT}", "r")],
                         ids=lambda p: p.source)
def test_rewriting_a_skeleton_workflow(name: str, pin: Pin) -> None:
    skeleton = (SKELETON / name).read_text(encoding="utf-8")
    assert read_pin(skeleton) == (PLACEHOLDER, None)
    text = rewrite_install(skeleton, pin)
    assert text is not None
    assert read_pin(text) == (pin.requirement, pin.sha256)
    assert rewrite_install(text, pin) == text  # a second run changes nothing
    assert (CHECKOUT_COMMENT if pin.source == "checkout" else DESK_COMMENT) in text
    assert unpinned_installs(text) == []
    if pin.source == "wheel":
        assert 'echo "$ITSM_PACKAGE_SHA256  $ITSM_PACKAGE" | sha256sum --check --strict\n' in text
    # Only the pin's lines change: the rest of the workflow is the skeleton's.
    kept = [line for line in skeleton.splitlines() if "ITSM_PACKAGE" not in line and not line.lstrip().startswith("#")]
    assert all(line in text.splitlines() for line in kept if "run:" not in line)


def test_switching_between_pins_round_trips() -> None:
    skeleton = (SKELETON / "sweep.yml").read_text(encoding="utf-8")
    carried = rewrite_install(skeleton, WHEEL)
    indexed = rewrite_install(carried, Pin("index", "itsm==2.0.0", "r"))
    assert "ITSM_PACKAGE_SHA256" not in indexed and "sha256sum" not in indexed
    assert indexed == rewrite_install(skeleton, Pin("index", "itsm==2.0.0", "r"))
    assert rewrite_install(indexed, WHEEL) == carried


def test_a_wheel_pin_needs_its_digest_and_a_workflow_without_the_lines_is_left_alone() -> None:
    skeleton = (SKELETON / "validate.yml").read_text(encoding="utf-8")
    with pytest.raises(ValueError):
        rewrite_install(skeleton, Pin("wheel", WHEEL.requirement, "r"))
    assert rewrite_install("on: push\njobs: {}\n", WHEEL) is None


def test_a_requirement_needing_quotes_survives_the_round_trip() -> None:
    odd = "itsm @ https://x.example/itsm-1.tar.gz#sha256=" + "a1" * 32
    text = rewrite_install((SKELETON / "validate.yml").read_text(encoding="utf-8"), Pin("given", odd, "r"))
    assert text is not None and f'ITSM_PACKAGE: "{odd}"' in text
    assert read_pin(text) == (odd, None)


# --- the unpinned-install rule --------------------------------------------------------


@pytest.mark.parametrize("requirement", [
    "itsm", "ITSM", "itsm>=1.0", "itsm~=1.2", "itsm==1.*", "itsm!=1.0", "itsm>=1,<2", "itsm[extra]",
    "itsm @ git+https://github.com/acme/itsm@main", "itsm @ https://x.example/itsm.tar.gz",
])
def test_unpinned(requirement: str) -> None:
    assert unpinned(requirement)


@pytest.mark.parametrize("requirement", [
    "itsm==1.2.3", "itsm===1.2.3", "itsm[extra]==1.2.3", f"itsm @ git+https://github.com/acme/itsm@{COMMIT}",
    f"itsm@git+https://github.com/acme/itsm@{COMMIT}", "itsm @ https://x.example/itsm.tar.gz#sha256=" + "a" * 64,
    "./.itsm/dist/itsm-1.2.3-py3-none-any.whl", ".", "/abs/itsm", "dist/itsm-1.2.3-py3-none-any.whl",
    "itsm-other", "requests", "https://example.org/something.whl",
])
def test_pinned_or_not_itsm(requirement: str) -> None:
    assert not unpinned(requirement)


def test_unpinned_installs_finds_names_in_env_lines_and_pip_commands() -> None:
    text = (
        "env:\n"
        "  ITSM_PACKAGE: itsm\n"  # line 2
        "steps:\n"
        "  - run: python -m pip install \"$ITSM_PACKAGE\"\n"  # judged by its env line
        "  - run: |\n"
        "      pip install --upgrade pip itsm>=2 -r requirements.txt\n"  # line 6
        "      pip3 install 'itsm==1.0' && pip install -c c.txt requests\n"
        "      # pip install itsm  (a comment)\n"
        "  - run: python -m pip install --index-url https://mirror.example/simple itsm\n"  # line 9
    )
    found = unpinned_installs(text)
    assert [(line, req) for line, _, req in found] == [(2, "itsm"), (6, "itsm>=2"), (9, "itsm")]
    assert found[0][1] == 3  # the column of ITSM_PACKAGE


def test_the_skeleton_placeholder_is_flagged_until_init_replaces_it() -> None:
    text = (SKELETON / "validate.yml").read_text(encoding="utf-8")
    assert [req for _, _, req in unpinned_installs(text)] == [PLACEHOLDER]
    assert unpinned_installs(rewrite_install(text, WHEEL) or "") == []
