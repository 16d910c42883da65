"""Adaptive retirement and escalation of campaign items (pure: no Django).

Zooniverse projects stop showing a subject once enough volunteers agree on it
("retirement") and send the contested ones to more eyes or to Talk. Here:

- **Retirement**: an item retires once its first ``k`` grades (in the order
  the server saved them) are all 0; its other inspectors' assignments that
  are not graded yet are withdrawn. A later grade that breaks the agreement
  (one of the first ``k`` changed from 0) un-retires it.
- **Escalation**: once every inspector who holds an item has graded it, the
  item is escalated when its grades differ by 2 or more (a 0 and a 2, the
  catalogues' disagreement rule, ``consensus.disagreements``) or when its
  Space Warps posterior lies within ``band`` of the decision threshold 0.5
  (even odds). Escalated to ``"inspectors"``: extra assignments to
  inspectors who have not seen the item; to ``"discussion"``: a flag on the
  campaign page. An item escalates once.

Known items go through the same rules as candidates, so that nothing an
inspector can see (an item withdrawn from their list, an extra item) tells
the two apart, and so that the known lenses retired as 0 measure what
retirement costs in completeness.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inspection.catalogues import consensus

ESCALATE_TO_LABELS = {
    "off": "no escalation",
    "inspectors": "extra inspectors",
    "discussion": "a discussion flag",
}
ESCALATE_TO = tuple(ESCALATE_TO_LABELS)
#: The posterior's decision threshold: a lens is more likely than not.
DECISION_P = 0.5
DISAGREE = "grades differ by 2 or more"
NEAR_THRESHOLD = "posterior near 0.5"


class AdaptiveError(ValueError):
    """Settings that retirement or escalation cannot use; the message says why."""


@dataclass(frozen=True)
class Policy:
    """A campaign's retirement and escalation settings.

    Parameters
    ----------
    retire_after : int or None
        k: retire once the first k grades are all 0 (None: never).
    escalate_to : str
        ``"off"``, ``"inspectors"`` or ``"discussion"``.
    extra : int
        Inspectors added to an item escalated to inspectors.
    band : float
        Escalate when ``|posterior - 0.5| <= band`` (0: never on the posterior).
    """

    retire_after: int | None = None
    escalate_to: str = "off"
    extra: int = 2
    band: float = 0.0

    def __post_init__(self):
        if self.retire_after is not None and self.retire_after < 1:
            raise AdaptiveError(f"k is at least 1 grade, not {self.retire_after}.")
        if self.escalate_to not in ESCALATE_TO:
            raise AdaptiveError(
                f"Escalate to one of {', '.join(ESCALATE_TO)}, not {self.escalate_to!r}."
            )
        if self.extra < 1:
            raise AdaptiveError(f"Escalation adds at least 1 inspector, not {self.extra}.")
        if not 0 <= self.band <= DECISION_P:
            raise AdaptiveError(f"The posterior band is 0-0.5 wide each side, not {self.band}.")

    @property
    def active(self) -> bool:
        """Whether grades can change anything (else no grade pays for a check)."""
        return self.retire_after is not None or self.escalate_to != "off"


def retires(grades_in_order: Sequence[int], k: int | None) -> bool:
    """Whether an item retires: its first ``k`` grades are all 0."""
    return k is not None and len(grades_in_order) >= k and not any(grades_in_order[:k])


def escalation(
    policy: Policy, grades: Sequence[int], posterior: float | None, complete: bool
) -> str | None:
    """Why an item escalates (:data:`DISAGREE` or :data:`NEAR_THRESHOLD`),
    or None.

    Parameters
    ----------
    grades : sequence of int
        The item's grades (any order).
    posterior : float or None
        Its Space Warps posterior P(lens) after these grades.
    complete : bool
        Whether every inspector who holds the item has graded it: the
        decision waits for all of them.
    """
    if policy.escalate_to == "off" or not complete or not grades:
        return None
    if consensus.disagreements(np.asarray([grades], float))[0]:
        return DISAGREE
    if policy.band > 0 and posterior is not None and abs(posterior - DECISION_P) <= policy.band:
        return NEAR_THRESHOLD
    return None


def pick_extra(candidates: Sequence[int], n: int, seed: str) -> list[int]:
    """``n`` of the inspector ids ``candidates`` (all if fewer), chosen at
    random but reproducibly for ``seed`` (the item), so that the extra work
    spreads over the inspectors."""
    pool = sorted(candidates)
    random.Random(seed).shuffle(pool)
    return pool[:n]


@dataclass(frozen=True)
class RetirementCost:
    """What retirement saved and cost in a campaign."""

    withdrawn: int  # assignments withdrawn ungraded: the gradings saved
    assignments: int  # every assignment of the campaign
    retired: int  # items retired
    known_lenses: int  # known lenses mixed into the campaign
    known_lenses_retired: int  # of them retired as 0
    injected_lenses: int = 0  # injected lenses mixed in (``inspection.completeness``)
    injected_lenses_retired: int = 0  # of them retired as 0

    @property
    def saved_fraction(self) -> float | None:
        return self.withdrawn / self.assignments if self.assignments else None

    @property
    def completeness_loss(self) -> float | None:
        """Known lenses retired as 0 / known lenses (None without known lenses)."""
        return self.known_lenses_retired / self.known_lenses if self.known_lenses else None

    @property
    def injected_loss(self) -> float | None:
        """Injected lenses retired as 0 / injected lenses shown (None without any)."""
        if not self.injected_lenses:
            return None
        return self.injected_lenses_retired / self.injected_lenses
