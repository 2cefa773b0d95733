"""What ``itsm list`` prints: the records a query selects, filtered, sorted and limited, from cached summaries.

The summaries (the fields of :data:`~itsm_cli.store.cache.SUMMARY_FIELDS`)
and the search texts come from :func:`itsm_cli.store.cache.summary_table`,
which reads only the files that changed since they were cached; the rules of
a match and of an order are :mod:`itsm_cli.core.query`'s. This module only
applies those rules to many rows quickly.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from itsm_cli.store.cache import SUMMARY_FIELDS, summary_table

if TYPE_CHECKING:
    from itsm_cli.core.query import Query
    from itsm_cli.store.desk import Desk

__all__ = ["SUMMARY_FIELDS", "find_records"]

# What core.query.matches() looks at (besides the search text): rows alike in these are selected alike.
_FILTER_FIELDS = ("type", "status", "service", "services", "assignee", "group", "priority")


class _Probe(dict):
    """A summary that notices when it is asked for a field outside :data:`_FILTER_FIELDS`."""

    strayed = False

    def get(self, name: Any, default: Any = None) -> Any:
        if name not in _FILTER_FIELDS:
            self.strayed = True
        return super().get(name, default)

    def __getitem__(self, name: Any) -> Any:
        if name not in _FILTER_FIELDS:
            self.strayed = True
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        if name not in _FILTER_FIELDS:
            self.strayed = True
        return super().__contains__(name)


def find_records(desk: Desk, query: Query, folders: Sequence[str] = ("tickets",), full: bool = False,
                 strays: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """What ``itsm list`` prints: the records ``query`` selects, filtered, sorted and limited.

    Answers from cached summaries; returns summary dicts (every field
    ``itsm list`` shows), or, with ``full`` (``--format json``) or a sort
    field outside :data:`SUMMARY_FIELDS`, the whole records, parsing only those
    that match. Same records, same order as
    ``run_query(config, (r.data for r in desk.records(folders)), query)``.
    ``strays``, when given, receives the summary of every record (of the
    query's type, if it names one) whose status is no state of its type: what
    ``--open``/``--closed`` leave out and ``itsm list`` warns about, found in
    the same pass.
    """
    from dataclasses import replace

    from itsm_cli.core.query import matches, run_query

    config = desk.config
    words = query.search.lower().split() if query.search else []
    plain = replace(query, search=None)
    order = type(query)(sort=query.sort, limit=query.limit)  # only sorts and limits what already matched
    found: list[tuple[str, dict[str, Any]]] = []
    fields = SUMMARY_FIELDS
    paths, table, hits = summary_table(desk, folders, words)
    rows = [(rel, row, None) for rel, row, hit in zip(paths, table, hits) if row is not None and hit]
    if strays is not None:
        # The distinct (type, status) pairs are a handful whatever the desk's size: judge those, and walk
        # the rows again only when one of them is no state of its type (a C-level pass, not a Python loop).
        type_status = operator.itemgetter(fields.index("type"), fields.index("status"))
        present = [row for row in table if row is not None]
        unknown = {key for key in set(map(type_status, present))
                   if isinstance(key[0], str) and key[0] in config.types and key[0] == (query.type_name or key[0])
                   and config.category(key[0], str(key[1])) is None}
        if unknown:
            strays.extend(dict(zip(fields, row)) for row in present if type_status(row) in unknown)
    # Rows alike in the fields matches() reads are selected alike: ask once per distinct combination,
    # unless matches() turns out to read anything else (then every row is asked).
    project = operator.itemgetter(*(fields.index(f) for f in _FILTER_FIELDS))
    verdicts: dict[tuple, bool] | None = {}
    for rel, row, _ in rows:
        key = None
        if verdicts is not None:
            key = project(row)
            try:
                verdict = verdicts.get(key)
            except TypeError:  # a list value (services): not hashable, ask directly
                key, verdict = None, None
            if verdict is not None:
                if verdict:
                    found.append((rel, dict(zip(fields, row))))
                continue
        summary = _Probe(zip(fields, row))  # absent fields are None, as record.get() would say
        verdict = matches(config, summary, plain)
        if summary.strayed:
            verdicts = None
        elif key is not None and verdicts is not None:
            verdicts[key] = verdict
        if verdict:
            found.append((rel, dict(summary)))
    sort_field = query.sort.lstrip("-")
    if sort_field in SUMMARY_FIELDS:
        ordered = run_query(config, [s for _, s in found], order)
        if not full:
            return ordered
        where = {id(s): rel for rel, s in found}
        chosen = [where[id(s)] for s in ordered]
    else:
        chosen = [rel for rel, _ in found]
    from itsm_cli.errors import InvalidRecord

    records = []
    for rel in chosen:
        try:
            records.append(desk.load(rel).data)
        except InvalidRecord:
            continue  # changed since it was summarised: left out, as desk.records() would
    return run_query(config, records, order)
