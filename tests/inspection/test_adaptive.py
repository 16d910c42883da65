"""inspection.grading.adaptive: when an item retires or escalates (no database)."""

import pytest

from inspection.grading import adaptive
from inspection.grading.adaptive import DISAGREE, NEAR_THRESHOLD, AdaptiveError, Policy


def test_it_retires_an_item_once_its_first_k_grades_are_all_0():
    assert adaptive.retires([0, 0], 2)
    assert adaptive.retires([0, 0, 2], 2)  # a later grade does not undo the first k
    assert not adaptive.retires([0], 2)  # not k grades yet
    assert not adaptive.retires([0, 1], 2)
    assert not adaptive.retires([1, 0, 0], 2)  # the first k, not any k
    assert not adaptive.retires([0, 0, 0], None)  # retirement off


def test_it_escalates_disagreements_of_two_once_every_holder_has_graded():
    policy = Policy(escalate_to="inspectors")
    assert adaptive.escalation(policy, [0, 2, 1], 0.01, complete=True) == DISAGREE
    assert adaptive.escalation(policy, [0, 2], 0.01, complete=False) is None
    assert adaptive.escalation(policy, [0, 1, 1], 0.01, complete=True) is None
    assert adaptive.escalation(Policy(), [0, 2], 0.01, complete=True) is None  # off


def test_it_escalates_a_posterior_within_the_band_of_one_half():
    policy = Policy(escalate_to="discussion", band=0.2)
    assert adaptive.escalation(policy, [1, 1], 0.65, complete=True) == NEAR_THRESHOLD
    assert adaptive.escalation(policy, [1, 1], 0.3, complete=True) == NEAR_THRESHOLD
    assert adaptive.escalation(policy, [1, 1], 0.75, complete=True) is None
    assert adaptive.escalation(policy, [1, 1], 0.2, complete=True) is None
    no_band = Policy(escalate_to="discussion")
    assert adaptive.escalation(no_band, [1, 1], 0.5, complete=True) is None


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"retire_after": 0}, "k is at least 1"),
        ({"escalate_to": "talk"}, "Escalate to one of off, inspectors, discussion"),
        ({"extra": 0}, "at least 1 inspector"),
        ({"band": 0.6}, "0-0.5"),
        ({"band": -0.1}, "0-0.5"),
    ],
)
def test_it_refuses_settings_it_cannot_use(settings, message):
    with pytest.raises(AdaptiveError, match=message):
        Policy(**settings)


def test_a_policy_is_active_only_when_grades_can_change_something():
    assert not Policy().active
    assert Policy(retire_after=2).active
    assert Policy(escalate_to="discussion").active


def test_it_picks_extra_inspectors_reproducibly_and_never_more_than_there_are():
    picked = adaptive.pick_extra([5, 3, 9, 7], 2, "extra-11")
    assert len(picked) == 2 and set(picked) <= {3, 5, 7, 9}
    assert adaptive.pick_extra([9, 7, 5, 3], 2, "extra-11") == picked  # order given is irrelevant
    assert sorted(adaptive.pick_extra([3, 5], 4, "x")) == [3, 5]
    spread = {tuple(adaptive.pick_extra(range(10), 2, f"extra-{n}")) for n in range(20)}
    assert len(spread) > 1  # not always the same two inspectors


def test_the_retirement_cost_is_known_lenses_retired_over_known_lenses():
    cost = adaptive.RetirementCost(
        withdrawn=30, assignments=120, retired=15, known_lenses=8, known_lenses_retired=2
    )
    assert cost.completeness_loss == 0.25 and cost.saved_fraction == 0.25
    empty = adaptive.RetirementCost(0, 0, 0, 0, 0)
    assert empty.completeness_loss is None and empty.saved_fraction is None
