"""inspection.grading.effort: time on task summarised (no database)."""

import csv
import io

import pytest

from inspection.grading import effort
from inspection.grading.effort import Timed


def rows():
    return [
        Timed("I1", 1, 0, 2.0),
        Timed("I1", 2, 0, 4.0),
        Timed("I1", 3, 2, 30.0),
        Timed("I1", 4, 1, None),  # an older page: counted, not timed
        Timed("I2", 1, 0, 1.0),
        Timed("I10", 1, 1, 12.0),
    ]


def test_it_gives_each_inspector_items_per_hour_and_median_seconds():
    summary = {e.inspector: e for e in effort.by_inspector(rows())}
    assert [e.inspector for e in effort.by_inspector(rows())] == ["I1", "I2", "I10"]
    one = summary["I1"]
    assert (one.grades, one.timed, one.median_s) == (4, 3, 4.0)
    assert one.hours == pytest.approx(36 / 3600)
    assert one.per_hour == pytest.approx(3 / (36 / 3600))  # 300 items an hour
    assert summary["I2"].per_hour == pytest.approx(3600)


def test_an_inspector_without_a_timed_grade_has_no_rate():
    (only,) = effort.by_inspector([Timed("I1", 1, 0, None)])
    assert only.per_hour is None and only.median_s is None and only.grades == 1


def test_it_gives_the_median_seconds_per_grade_value():
    assert effort.median_by_grade(rows()) == {0: 2.0, 1: 12.0, 2: 30.0}
    assert effort.median_by_grade([]) == {0: None, 1: None, 2: None}
    assert effort.median_seconds(rows()) == pytest.approx(4.0)


def test_the_csv_has_its_columns_in_order_and_empty_cells_for_no_time():
    text = effort.to_csv(effort.grade_records(rows()), effort.GRADE_COLUMNS)
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["inspector", "item", "grade", "seconds"]
    assert table[1] == ["I1", "1", "0", "2.0"] and table[4] == ["I1", "4", "1", ""]
    summary = effort.inspector_records(effort.by_inspector(rows()))
    assert list(summary[0]) == list(effort.INSPECTOR_COLUMNS)
