"""``itsm init``: lay out a new desk (config, schemas, folders, site, workflows) and commit it.

The demo desk exists once: the top level of the itsm source repository. A
wheel ships a copy of it as package data (``itsm_cli/data/demo``, built by
the packaging config); a source checkout reads it in place.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from itsm_cli.core.intake import FORM_HEADER, FORM_PATH
from itsm_cli.core.tool_pin import Pin
from itsm_cli.errors import EnvironmentProblem, Refused
from itsm_cli.store import yaml_io
from itsm_cli.store.atomic import write_atomic
from itsm_cli.store.desk import Desk
from itsm_cli.store.gitstore import Git

DATA = Path(str(resources.files("itsm_cli") / "data"))
DEMO_ITEMS = ("itsm.yaml", "catalog", "tickets", "kb", "suppliers")
SKELETON = DATA / "skeleton"


def request_form_text(desk: Desk) -> str:
    """The Git host's request form (a GitHub issue form) for the desk's live catalog."""
    from itsm_cli.core.intake import issue_form

    return FORM_HEADER + yaml_io.dumps(issue_form(desk.config, desk.services()))


def demo_source() -> Path:
    """Where the demo desk is: the wheel's package data, else the source checkout's top level."""
    shipped = DATA / "demo"
    if (shipped / "itsm.yaml").is_file():
        return shipped
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "itsm.yaml").is_file() and (checkout / "catalog").is_dir():
        return checkout
    raise EnvironmentProblem("the demo desk is not installed with this copy of itsm")


def _copy_tree(src: Path, dest: Path) -> None:
    for item in sorted(src.rglob("*")):
        if item.is_dir() or "__pycache__" in item.parts:
            continue
        target = dest / item.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item, target)


def _config_text(actor: str | None, name: str | None) -> str:
    text = (DATA / "itsm.yaml").read_text(encoding="utf-8")
    if actor:
        person = {"email": actor, "name": actor.split("@")[0], "roles": ["agent", "approver"],
                  "groups": ["service-desk", "cab"]}
        item = yaml_io.dumps([person]).replace("\n", "\n  ").rstrip()
        text = text.replace("people: []\n", f"people:\n  {item}\n", 1)
    if name:
        value = yaml_io.dumps(name).removesuffix("...\n").strip()  # a lone scalar ends the document
        text = text.replace("  name: IT Service Desk\n", f"  name: {value}\n", 1)
    return text


@dataclass(frozen=True)
class InitResult:
    """What ``itsm init`` made: its commit, and the itsm its workflows install."""

    commit: str
    pin: Pin


def init_desk(path: Path, demo: bool = False, actor: str | None = None, name: str | None = None,
              pin: Pin | None = None) -> InitResult:
    """Create the desk at ``path`` as its own git repository with a first commit.

    The workflows install ``pin``, by default the running itsm from the best
    source it can prove (:func:`itsm_cli.store.tool_pin.resolve_pin`); a
    carried wheel is written to ``.itsm/dist/``.
    """
    from itsm_cli.store.tool_pin import plan_pin, resolve_pin, write_plan

    path.mkdir(parents=True, exist_ok=True)
    if (path / "itsm.yaml").exists():
        raise Refused(f"{path} already holds a desk (itsm.yaml exists)")
    git = Git(path)
    if not (path / ".git").exists():
        git.run("init", "-q", "-b", "main")
    actor = actor or os.environ.get("ITSM_USER") or git.config_value("user.email")
    _copy_tree(SKELETON, path)
    plan = plan_pin(path, pin or resolve_pin())
    write_plan(path, plan)
    _copy_tree(DATA / "schemas", path / "schemas")
    if demo:
        src = demo_source()
        for item in DEMO_ITEMS:
            source = src / item
            if source.is_dir():
                _copy_tree(source, path / item)
            else:
                shutil.copyfile(source, path / item)
    else:
        (path / "itsm.yaml").write_text(_config_text(actor, name), encoding="utf-8")
        for folder in ("tickets", "catalog", "kb", "suppliers"):
            (path / folder).mkdir(exist_ok=True)
            (path / folder / ".gitkeep").touch()
    # The request form lists this desk's own catalog, not the demo's.
    write_atomic(path / FORM_PATH, request_form_text(Desk(path.resolve())))
    # Route record files through the record-aware merge driver.
    git.run("config", "merge.itsm.name", "itsm record merge")
    git.run("config", "merge.itsm.driver", "itsm merge-driver %O %A %B %L %P")
    author = actor or "itsm@localhost"
    message = "itsm: initialise desk" + (" (demo)" if demo else "") + "\n\nItsm-Action: init\n"
    return InitResult(git.commit(["."], message, author.split("@")[0], author), plan.pin)
