"""store/next_id: the highest number on each tree, remembered per tree."""

from __future__ import annotations

from pathlib import Path


def test_each_branch_tree_is_read_once_for_new_ids(desk: Path) -> None:
    from itsm_cli.store.desk import Desk
    from itsm_cli.store.next_id import highest_on_trees

    asked: list[list[str]] = []

    def scan(trees: list[str]) -> list[int]:
        asked.append(trees)
        return [7 if t == "a" * 40 else 3 for t in trees]

    d = Desk(desk)
    assert highest_on_trees(d, ["a" * 40, "b" * 40], "INC", scan) == 7
    assert highest_on_trees(d, ["b" * 40, "a" * 40], "INC", scan) == 7  # both remembered: nothing read
    assert highest_on_trees(d, ["b" * 40], "PRB", scan) == 3  # another prefix is another question
    assert asked == [["a" * 40, "b" * 40], ["b" * 40]]
