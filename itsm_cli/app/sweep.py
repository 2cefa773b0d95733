"""The scheduled sweep: the desk's time rules applied, each action one commit by the bot.

Auto-close, escalate, remind approvers, flag overdue reviews (planned by
:func:`itsm_cli.core.rules.plan_sweep`), and remind each supplier's owner of
a contract date coming up (:func:`itsm_cli.core.suppliers.plan_reminders`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from itsm_cli.app import App
from itsm_cli.app.bot import record_folders, save_as_bot
from itsm_cli.core import rules
from itsm_cli.errors import InvalidRecord
from itsm_cli.store.desk import Desk, Record


@dataclass
class SweepResult:
    """What a sweep did (or, dry, would do), what it could not do, and its commits."""

    steps: list[rules.SweepStep] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)


def sweep(desk: Desk, now: str, dry_run: bool = False) -> SweepResult:
    """Apply the desk's time rules at ``now``: each action one commit by the bot (``Itsm-Action: sweep``).

    Idempotent: every action leaves its mark in the record's history, and an
    action whose mark is there is not planned again, so a second sweep with
    nothing new to do changes nothing. Actions the workflow or validation
    refuse are reported in ``problems`` and the sweep goes on.
    """
    config = desk.config
    bot = config.bot
    app = App(desk, bot, now)
    result = SweepResult()
    with desk.lock():
        loaded = {r.id: r for r in desk.records(record_folders(desk))}
        plan = rules.plan_sweep(config, [r.data for r in loaded.values()], desk.services(), now, bot)
        result.problems.extend(plan.problems)
        failed: set[str] = set()
        for step in plan.steps:
            if step.record_id in failed:
                continue  # later steps of a record build on the one that failed
            rec = loaded[step.record_id]
            new = Record(rec.path, step.data, rec.kind, rec.body, rec.body_line)
            try:
                app.check([new])
            except InvalidRecord as e:
                result.problems.append(f"{step.record_id}: {e.message}")
                failed.add(step.record_id)
                continue
            result.steps.append(step)
            if dry_run:
                continue
            sha = save_as_bot(desk, [(rec.path, new.serialise())], step.record_id, "sweep", step.summary)
            if sha:
                result.commits.append(sha)
        _remind_supplier_owners(desk, app, result, dry_run)
    return result


def _remind_supplier_owners(desk: Desk, app: App, result: SweepResult, dry_run: bool) -> None:
    """Record a reminder to each supplier's owner of a contract date coming up (once per contract and date)."""
    from itsm_cli.core import suppliers
    from itsm_cli.core.sla import parse_timestamp

    stype = desk.config.supplier_type()
    if stype is None:
        return
    loaded = {r.id: r for r in desk.records((stype.folder,))}
    for reminder in suppliers.plan_reminders(desk.config, {i: r.data for i, r in loaded.items()}, parse_timestamp(app.now)):
        rec = loaded[reminder.supplier_id]
        new = Record(rec.path, reminder.data, rec.kind)
        try:
            app.check([new])
        except InvalidRecord as e:
            result.problems.append(f"{reminder.supplier_id}: {e.message}")
            continue
        result.steps.append(rules.SweepStep(reminder.supplier_id, "remind", reminder.summary, reminder.data))
        if dry_run:
            continue
        sha = save_as_bot(desk, [(rec.path, new.serialise())], reminder.supplier_id, "sweep", reminder.summary)
        if sha:
            result.commits.append(sha)
