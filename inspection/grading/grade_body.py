"""The body of a grade request, checked before anything reaches the database
(pure: no Django). One code path: the grading page, the training form and
any script all go through :func:`check_grade`.

Only the integers 0, 1 and 2 are grades: ``int()`` would turn 1.5, 2.99,
-0.5 and ``true`` into 1, 2, 0 and 1, grades nobody gave. Every other way a
body can be wrong (not JSON, NaN or Infinity, an id beyond the database's
integers, a NUL that PostgreSQL cannot store) raises :class:`GradeBodyError`
with a message for the sender, so that it answers 400, never 500.
"""

import json
import math
from dataclasses import dataclass, field

GRADES = (0, 1, 2)
MAX_COMMENT = 2000
MAX_VIEW_CHARS = 32
#: Ids are 64-bit (BigAutoField); a larger one overflows the database query.
MAX_ID = 2**63 - 1
#: A grade is a few dozen bytes; the comment sets the scale.
MAX_BODY_BYTES = 16 * 1024
VIEW_KEYS = ("stretch", "zoom")
#: Time on task is capped at an hour per submission: the grading page counts
#: at most 60 s of any stretch without input (``static/js/grading.js``) and
#: clamps what it sends to this cap, so a larger value is no measurement.
MAX_SECONDS = 3600.0


class GradeBodyError(ValueError):
    """A grade or a grade request is malformed; the message says how."""


@dataclass(frozen=True)
class GradeBody:
    """A checked grade request."""

    id: int
    grade: int
    comment: str = ""
    view: dict = field(default_factory=dict)
    seconds: float | None = None


def _is_int(value) -> bool:
    # bool is an int subclass: ``true`` must not pass as 1.
    return isinstance(value, int) and not isinstance(value, bool)


def check_grade(value: object) -> int:
    """The grade as an int: 0, 1 or 2 given as an integer, or as the digit
    a form field sends ("0", "1", "2"); anything else raises."""
    if _is_int(value) and value in GRADES:
        return value
    if isinstance(value, str) and value in ("0", "1", "2"):
        return int(value)
    raise GradeBodyError(f"A grade is 0 (non-lens), 1 (possible) or 2 (definite), not {value!r}.")


def check_text(name: str, value: object, limit: int) -> str:
    """``value`` if it is a string that fits the limit and the database."""
    if not isinstance(value, str):
        raise GradeBodyError(f"{name} must be a string, not {type(value).__name__}.")
    if len(value) > limit:
        raise GradeBodyError(f"{name} is {len(value)} characters long; the limit is {limit}.")
    if "\x00" in value:
        raise GradeBodyError(f"{name} contains a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800"
        raise GradeBodyError(f"{name} is not valid Unicode text.") from None
    return value


def check_seconds(value: object) -> float | None:
    """Time on task in seconds: None (not measured: an older page or a
    script), or a finite number in ``[0, MAX_SECONDS]`` (an int or a float,
    not a bool or a string)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GradeBodyError(f"seconds must be a number of seconds, not {value!r}.")
    try:
        seconds = float(value)
    except OverflowError:  # an integer beyond the floats
        raise GradeBodyError(f"seconds must be at most {MAX_SECONDS:g}.") from None
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SECONDS:
        raise GradeBodyError(f"seconds must lie in 0-{MAX_SECONDS:g}, not {value!r}.")
    return seconds


def _refuse_constant(name):
    raise GradeBodyError(f"{name} is not a number JSON allows.")


def parse_grade_body(body: bytes, content_type: str) -> GradeBody:
    """Check a grade request.

    Parameters
    ----------
    body : bytes
        The request body: a JSON object with ``id`` and ``grade`` (integers),
        and optionally ``comment``, ``stretch`` and ``zoom`` (strings) and
        ``seconds`` (time on task, :func:`check_seconds`). Other keys are
        ignored.
    content_type : str
        The request's media type, without parameters; only
        ``application/json`` is accepted (a form or multipart body is not
        read at all).

    Returns
    -------
    GradeBody

    Raises
    ------
    GradeBodyError
        Saying what is wrong with the body.
    """
    usage = "Send a JSON object with id, grade (0, 1 or 2) and optionally comment, stretch, zoom."
    if content_type != "application/json":
        raise GradeBodyError(f"{usage} (Content-Type application/json, not {content_type!r})")
    if len(body) > MAX_BODY_BYTES:
        raise GradeBodyError(f"The body is over {MAX_BODY_BYTES} bytes. {usage}")
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise GradeBodyError(f"The body is nested too deeply. {usage}") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError included
        raise GradeBodyError(f"The body is not JSON ({exc}). {usage}") from None
    if not isinstance(data, dict):
        raise GradeBodyError(usage)
    if "id" not in data or "grade" not in data:
        raise GradeBodyError(usage)
    assignment_id = data["id"]
    if not (_is_int(assignment_id) and 1 <= assignment_id <= MAX_ID):
        raise GradeBodyError(f"id must be a positive integer below 2**63, not {assignment_id!r}.")
    view = {k: check_text(k, data[k], MAX_VIEW_CHARS) for k in VIEW_KEYS if k in data}
    return GradeBody(
        id=assignment_id,
        grade=check_grade(data["grade"]),
        comment=check_text("comment", data.get("comment", ""), MAX_COMMENT),
        view=view,
        seconds=check_seconds(data.get("seconds")),
    )
