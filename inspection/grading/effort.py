"""Inspector effort: time on task per grade, summarised (pure: no Django).

The grading page measures each grade's time on task in the browser
(``static/js/grading.js``): from the moment the item's stamps are on screen
to the grade key, counting no time while the tab is hidden and at most
``IDLE_CUTOFF_S`` of any stretch without input (a key, a click, the mouse or
the wheel). Space Warps reports about 1 s per object on streams that are
mostly negatives and about 10 s on purer lists (Marshall et al. 2016; More
et al. 2016): the figures to compare a campaign's against.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from inspection.grading.grade_body import GRADES

#: Seconds without input after which the clock stops until the next input
#: (the same number as ``IDLE_MS`` in ``static/js/grading.js``).
IDLE_CUTOFF_S = 60


@dataclass(frozen=True)
class Timed:
    """One grade and its time on task."""

    inspector: str  # an inspector code (I1, I2, ...)
    item: int  # the campaign item
    grade: int
    seconds: float | None  # None: not measured (an older page, a script)


@dataclass(frozen=True)
class InspectorEffort:
    inspector: str
    grades: int  # grades given
    timed: int  # of them with a time
    hours: float  # time on task of the timed grades, h
    median_s: float | None

    @property
    def per_hour(self) -> float | None:
        """Items graded per hour of time on task (timed grades only)."""
        return self.timed / self.hours if self.hours > 0 else None


def _median(values):
    return float(np.median(values)) if len(values) else None


def by_inspector(rows: Iterable[Timed]) -> list[InspectorEffort]:
    """Each inspector's grades, time on task, items per hour and median
    seconds per item, in the order of the inspector codes."""
    grouped: dict[str, list[Timed]] = {}
    for row in rows:
        grouped.setdefault(row.inspector, []).append(row)
    out = []
    for code in sorted(grouped, key=_code_key):
        times = [r.seconds for r in grouped[code] if r.seconds is not None]
        out.append(
            InspectorEffort(
                inspector=code,
                grades=len(grouped[code]),
                timed=len(times),
                hours=sum(times) / 3600,
                median_s=_median(times),
            )
        )
    return out


def _code_key(code):
    digits = code.lstrip("I")
    return (0, int(digits)) if digits.isdigit() else (1, code)


def median_by_grade(rows: Iterable[Timed]) -> dict[int, float | None]:
    """Median seconds per item for each grade value (None where no timed grade)."""
    times: dict[int, list[float]] = {g: [] for g in GRADES}
    for row in rows:
        if row.seconds is not None:
            times[row.grade].append(row.seconds)
    return {g: _median(v) for g, v in times.items()}


def median_seconds(rows: Iterable[Timed]) -> float | None:
    """Median seconds per item over every timed grade."""
    return _median([r.seconds for r in rows if r.seconds is not None])


GRADE_COLUMNS = ("inspector", "item", "grade", "seconds")
INSPECTOR_COLUMNS = ("inspector", "grades", "timed", "hours", "per_hour", "median_s")


def grade_records(rows: Iterable[Timed]) -> list[dict]:
    return [{c: getattr(r, c) for c in GRADE_COLUMNS} for r in rows]


def inspector_records(summary: Iterable[InspectorEffort]) -> list[dict]:
    return [{c: getattr(s, c) for c in INSPECTOR_COLUMNS} for s in summary]


def to_csv(records: Sequence[dict], columns: Sequence[str]) -> str:
    """Records as CSV text, columns in the given order, None as empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow(["" if record[c] is None else record[c] for c in columns])
    return out.getvalue()
