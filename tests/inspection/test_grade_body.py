"""inspection.grading.grade_body: what a grade request may hold (no database)."""

import json

import pytest

from inspection.grading.grade_body import (
    MAX_COMMENT,
    MAX_SECONDS,
    GradeBody,
    GradeBodyError,
    check_grade,
    parse_grade_body,
)

JSON = "application/json"


def body(**fields):
    return json.dumps({"id": 7, "grade": 1, **fields}).encode()


def test_it_reads_a_grade_with_its_comment_and_view():
    parsed = parse_grade_body(body(comment="arc", stretch="log", zoom="2", extra=1), JSON)
    assert parsed == GradeBody(id=7, grade=1, comment="arc", view={"stretch": "log", "zoom": "2"})


@pytest.mark.parametrize("value", [0, 1, 2, "0", "1", "2"])
def test_it_accepts_only_the_integers_0_1_2_or_their_digits(value):
    assert check_grade(value) == int(value)


@pytest.mark.parametrize(
    "value", [1.5, 2.99, -0.5, 1.0, True, False, None, 3, -1, "1.5", " 1", "one", [1], {"g": 1}]
)
def test_it_refuses_everything_else_as_a_grade(value):
    with pytest.raises(GradeBodyError, match="0 .non-lens., 1 .possible. or 2"):
        check_grade(value)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b'{"id": Infinity, "grade": 1}', "not a number JSON allows"),
        (b'{"id": NaN, "grade": 1}', "not a number JSON allows"),
        (b'{"id": 1e400, "grade": 1}', "positive integer"),
        (b'{"id": 99999999999999999999999999999, "grade": 1}', "positive integer"),
        (b'{"id": 0, "grade": 1}', "positive integer"),
        (b'{"id": "7", "grade": 1}', "positive integer"),
        (b'{"id": true, "grade": 1}', "positive integer"),
        (b'{"id": 7, "grade": 1, "comment": 5}', "comment must be a string"),
        (b'{"id": 7, "grade": 1, "comment": ["x"]}', "comment must be a string"),
        (b'{"id": 7, "grade": 1, "zoom": {"a": 1}}', "zoom must be a string"),
        (b'{"id": 7, "grade": 1, "comment": "a\\u0000b"}', "NUL"),
        (b'{"id": 7, "grade": 1, "comment": "\\ud800"}', "not valid Unicode"),
        (b'{"id": 7, "grade": 1.5}', "not 1.5"),
        (b'{"id": 7}', "Send a JSON object"),
        (b"[7, 1]", "Send a JSON object"),
        (b"nope", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[" * 100_000, "over"),
        (b"[" * 10_000, "nested too deeply"),
    ],
)
def test_it_says_what_is_wrong_with_a_malformed_body(raw, message):
    with pytest.raises(GradeBodyError, match=message):
        parse_grade_body(raw, JSON)


def test_it_refuses_a_comment_over_the_limit_rather_than_cutting_it():
    with pytest.raises(GradeBodyError, match=f"the limit is {MAX_COMMENT}"):
        parse_grade_body(body(comment="x" * (MAX_COMMENT + 1)), JSON)


@pytest.mark.parametrize("content_type", ["multipart/form-data", "text/plain", ""])
def test_it_reads_only_json(content_type):
    with pytest.raises(GradeBodyError, match="application/json"):
        parse_grade_body(body(), content_type)


# --- Time on task -------------------------------------------------------------------


def test_it_reads_the_time_on_task_when_sent_and_none_from_older_pages():
    assert parse_grade_body(body(seconds=4.25), JSON).seconds == 4.25
    assert parse_grade_body(body(seconds=0), JSON).seconds == 0.0
    assert parse_grade_body(body(seconds=MAX_SECONDS), JSON).seconds == MAX_SECONDS
    assert parse_grade_body(body(), JSON).seconds is None
    assert parse_grade_body(body(seconds=None), JSON).seconds is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": 7, "grade": 1, "seconds": -0.5}',
        b'{"id": 7, "grade": 1, "seconds": 3600.5}',
        b'{"id": 7, "grade": 1, "seconds": 1e999}',
        b'{"id": 7, "grade": 1, "seconds": ' + b"9" * 400 + b"}",
        b'{"id": 7, "grade": 1, "seconds": NaN}',
        b'{"id": 7, "grade": 1, "seconds": Infinity}',
        b'{"id": 7, "grade": 1, "seconds": "4"}',
        b'{"id": 7, "grade": 1, "seconds": true}',
        b'{"id": 7, "grade": 1, "seconds": [4]}',
    ],
)
def test_it_refuses_a_time_on_task_that_is_no_measurement(raw):
    with pytest.raises(GradeBodyError, match="seconds|number"):
        parse_grade_body(raw, JSON)
