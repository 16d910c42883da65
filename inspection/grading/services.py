"""The grading stage's ORM side: known sets, inspector training, campaigns
and grades (He et al. 2020 Sect. 4.1; Space Warps skills, Marshall et al.
2016), inspector accounts and stamp previews. One code path for the pages and
the commands.

Grades are never lost: each is an upsert on its assignment inside a
transaction, and every change appends a ``GradeChange``; a repeated
submission of the same grade (a double key press) changes nothing.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Count, F, Max, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core import display
from core.files import write_atomic
from core.roles import INSPECTOR_GROUP
from inspection.catalogues import consensus
from inspection.grading import adaptive, effort, grade_body, teaching
from inspection.ingest import cutouts
from inspection.models import (
    Assignment,
    Campaign,
    CampaignItem,
    Grade,
    GradeChange,
    KnownItem,
    KnownSet,
    Skill,
    TrainingAnswer,
    TrainingAttempt,
    TrainingPolicy,
)
from simulations.stampset import StampSetError, read_stampset

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from inspection.models import ScoringRun, Survey


GRADES = grade_body.GRADES
MAX_COMMENT = grade_body.MAX_COMMENT


class GradingError(ValueError):
    """A grade, campaign or training step is not valid; the message says why.

    ``http_status`` is what a page answers when it refuses for this reason:
    the views read the type, never the message's wording."""

    http_status = 400


class GradesClosed(GradingError):
    """A grade sent to a campaign that is not open: the request was well
    formed but the campaign's state refuses it (the grading page's script
    stops retrying on a 409)."""

    http_status = 409


class NotInTraining(GradingError):
    """A training answer for an item that is not in the inspector's own set."""

    http_status = 404


class NotAnsweredYet(GradingError):
    """The truth of a training item asked for before the inspector answered it."""

    http_status = 403


class TrainingNotFailed(GradingError):
    """A retake while the current attempt is under way or passed."""

    http_status = 409


def is_correct(grade: int, is_lens: bool) -> bool:
    """A lens is found with 1 or 2, a non-lens with 0."""
    return (grade >= 1) if is_lens else (grade == 0)


def check_grade(value: object) -> int:
    """0, 1 or 2 (``grade_body.check_grade``: 1.5 or ``True`` is no grade)."""
    try:
        return grade_body.check_grade(value)
    except grade_body.GradeBodyError as exc:
        raise GradingError(str(exc)) from None


# --- Known sets ------------------------------------------------------------------


def add_known_set(name: str, path: str | Path, description: str = "") -> KnownSet:
    """Register a labelled stamp set (simulated, or real lenses uploaded by an
    admin) whose stamps inspectors train on."""
    return _known_from_stamps(name, path, description)


def split_for_training(labels: np.ndarray) -> list[bool]:
    """Which items of a known set are for training (True) and which are mixed
    into campaigns (False): every other item of each class, in stamp order,
    so that both halves hold lenses and non-lenses in the set's proportions.
    (Migration 0006 applied the same rule to the sets that existed.)"""
    seen = {}
    split = []
    for label in labels:
        n = seen.get(int(label), 0)
        split.append(n % 2 == 0)
        seen[int(label)] = n + 1
    return split


def _check_new_known_name(name: str) -> None:
    if KnownSet.objects.filter(name=name).exists():
        raise GradingError(f"A known set named {name!r} exists already: choose another name.")


def _known_from_stamps(name, path, description="", allow_one_class=False):
    _check_new_known_name(name)
    try:
        stamps = read_stampset(path)
    except StampSetError as exc:
        raise GradingError(str(exc)) from exc
    labels = stamps.labels
    if np.any(labels < 0):
        raise GradingError(f"{path}: known items need labels 0/1 for every stamp (found -1).")
    if not allow_one_class and (not (labels == 1).any() or not (labels == 0).any()):
        raise GradingError(f"{path}: a training set needs both lenses and non-lenses.")
    meta = stamps.meta
    kinds = np.asarray(meta["kind"]).astype(str) if "kind" in meta.colnames else None
    theta = np.asarray(meta["theta_e"], float) if "theta_e" in meta.colnames else None
    for_training = split_for_training(labels)
    with transaction.atomic():
        try:
            with transaction.atomic():
                known = KnownSet.objects.create(
                    name=name,
                    stamps_path=str(path),
                    bands=",".join(stamps.bands),
                    pixscale_arcsec=stamps.pixscale_arcsec,
                    description=description,
                )
        except IntegrityError:  # the same name, registered a moment ago by another request
            raise GradingError(
                f"A known set named {name!r} exists already: choose another name."
            ) from None
        KnownItem.objects.bulk_create(
            KnownItem(
                known_set=known,
                stamp_index=i,
                is_lens=bool(labels[i] == 1),
                kind=(kinds[i] if kinds is not None else ("lens" if labels[i] == 1 else "")),
                theta_e_arcsec=float(theta[i]) if theta is not None and labels[i] == 1 else None,
                for_training=for_training[i],
            )
            for i in range(len(labels))
        )
    return known


# --- Skills and training ---------------------------------------------------------


def skill_of(user: User) -> Skill:
    skill, _ = Skill.objects.get_or_create(inspector=user)
    return skill


def _count_known(user, is_lens, correct, training=False):
    """Count one known item graded: in the totals the consensus reads, and,
    for a training answer, in the training counts too (hidden = total -
    training)."""
    field = "lens" if is_lens else "not"
    skill_of(user)
    names = [field] + ([f"train_{field}"] if training else [])
    updates = {f"{n}_seen": F(f"{n}_seen") + 1 for n in names}
    if correct:
        updates.update({f"{n}_right": F(f"{n}_right") + 1 for n in names})
    Skill.objects.filter(inspector=user).update(**updates)


def skills_table() -> QuerySet[Skill]:
    """Every inspector's skill, by username, with ``attempts``: their
    training attempts recorded."""
    return (
        Skill.objects.select_related("inspector")
        .annotate(attempts=Count("inspector__training_attempts"))
        .order_by("inspector__username")
    )


def _training_pool(policy: TrainingPolicy) -> list[tuple[int, bool]]:
    """(id, is_lens) of every training item of the policy's sets, in a fixed order."""
    return list(
        KnownItem.objects.filter(known_set__in=policy.known_sets.all(), for_training=True)
        .order_by("known_set_id", "stamp_index")
        .values_list("pk", "is_lens")
    )


def _draw(user, number, pool, n_items, earlier):
    """Attempt ``number``'s items, given the attempts before it (``earlier``)."""
    shown = {pk for a in earlier for pk in a.items}
    previous = earlier[-1].items if earlier else ()
    seeds = teaching.attempt_seeds(user.pk, number)
    return teaching.draw_attempt(pool, n_items, seeds, shown, previous)


def current_attempt(user: User) -> TrainingAttempt | None:
    """The inspector's current training attempt (the first is made on the
    first visit), or None while there is nothing to train on.

    An attempt not yet begun (no answer) follows the training policy: if the
    admins changed its sets or its number of items meanwhile, it is drawn
    again; once begun, it keeps its items."""
    policy = TrainingPolicy.current()
    attempts = list(TrainingAttempt.objects.filter(inspector=user).order_by("number"))
    if not attempts:
        pool = _training_pool(policy)
        if not pool:
            return None
        attempt, _ = TrainingAttempt.objects.get_or_create(
            inspector=user, number=1, defaults={"items": _draw(user, 1, pool, policy.n_items, [])}
        )
        return attempt
    attempt = attempts[-1]
    if attempt.finished_at is None and not TrainingAnswer.objects.filter(inspector=user).exists():
        items = _draw(user, attempt.number, _training_pool(policy), policy.n_items, attempts[:-1])
        if items != attempt.items:
            attempt.items = items
            attempt.save(update_fields=["items"])
    return attempt


def _items_of(attempt):
    found = KnownItem.objects.select_related("known_set").in_bulk(attempt.items)
    return [found[pk] for pk in attempt.items if pk in found]


def training_items(user: User) -> list[KnownItem]:
    """The items of the inspector's current attempt, in their order."""
    attempt = current_attempt(user)
    return _items_of(attempt) if attempt else []


def training_state(
    user: User,
) -> tuple[list[KnownItem], dict[int, TrainingAnswer], bool, float | None]:
    """(items, answers by item id, passed, fraction correct or None)."""
    items = training_items(user)
    answers = {a.item_id: a for a in TrainingAnswer.objects.filter(inspector=user, item__in=items)}
    right = sum(a.correct for a in answers.values())
    fraction = right / len(answers) if answers else None
    return items, answers, skill_of(user).passed_at is not None, fraction


def needs_training(user: User) -> bool:
    policy = TrainingPolicy.current()
    return policy.known_sets.exists() and skill_of(user).passed_at is None


def may_grade(user: User, passed: bool | None = None, required: bool | None = None) -> bool:
    """Whether the inspector has passed the training, or there is none to
    pass (``passed``: whether they have passed, ``required``: whether the
    training has known sets, where already known, as from
    :func:`own_assignment`)."""
    if passed is None:
        passed = Skill.objects.filter(inspector=user, passed_at__isnull=False).exists()
    if passed:
        return True
    if required is None:
        return not needs_training(user)
    return not required


@lru_cache(maxsize=1)
def _guard_sql() -> dict:
    """The three checks of :func:`own_assignment` as SQL (table and column
    names from the models): plain ``EXISTS`` on the user's id. Django
    compiles ``Exists(OuterRef(...))`` subqueries anew on every request, and
    that took 0.9 ms of the 2.9 ms this query cost the grade request
    (these: 0.07 ms)."""
    skill = Skill._meta
    policy = TrainingPolicy.known_sets.through._meta
    membership = get_user_model().groups.through._meta
    group = Group._meta
    passed = skill.get_field("passed_at").column
    return {
        "passed": f"EXISTS(SELECT 1 FROM {skill.db_table} WHERE "
        f"{skill.get_field('inspector').column} = %s AND {passed} IS NOT NULL)",
        "training_required": f"EXISTS(SELECT 1 FROM {policy.db_table} WHERE "
        f"{policy.get_field('trainingpolicy').column} = 1)",
        "is_inspector": f"EXISTS(SELECT 1 FROM {membership.db_table} m JOIN {group.db_table} g "
        f"ON g.id = m.{membership.get_field('group').column} WHERE "
        f"m.{membership.get_field('user').column} = %s AND g.name = %s)",
    }


#: What an image request reads of an assignment and its relations
#: (``own_assignment(with_survey=True)``, ``render_item``, ``kinds_of``).
IMAGE_FIELDS = (
    "campaign__status",
    "campaign__name",
    "campaign__run__survey__name",
    "campaign__run__survey__bands",
    "campaign__run__survey__pixscale_arcsec",
    "campaign__run__survey__stamp_size",
    "campaign__run__survey__stamps_path",
    "item__source__stamp_index",
    "item__known__known_set",
    "item__known__stamp_index",
    "item__injection__stamp_index",
    "inspector",
)


def own_assignment(
    user: User, campaign_pk: int, assignment_pk: int, with_survey: bool = False
) -> Assignment | None:
    """The inspector's own assignment in their open or closed campaign (a
    draft is the admins' alone), or None. On it, ``passed`` says whether they
    have passed the training, ``training_required`` whether there is one at
    all (``TrainingPolicy.current()`` is row 1), ``is_inspector`` whether
    they are (still) in the inspectors' group; with ``with_survey``,
    ``assignment.campaign.run.survey`` is loaded too.

    One query guards every grade and every image request, so it carries all
    that they check: measured with ``bench/grading.py``, each extra round
    trip (the group check, the survey) cost more than the joins it saves.
    """
    guard = _guard_sql()
    related = ["campaign", "item__source", "item__known", "item__injection"]
    if with_survey:
        # A picture reads only these: compiling and decoding every column of
        # the six tables (a survey's catalogue columns, cuts and funnel are
        # JSON) took twice the CPU time of the rest of the image request.
        assignments = Assignment.objects.select_related(*related, "campaign__run__survey").only(
            *IMAGE_FIELDS
        )
    else:
        assignments = Assignment.objects.select_related(*related)
    try:
        assignment = (
            assignments.annotate(
                passed=RawSQL(guard["passed"], (user.pk,), BooleanField()),
                training_required=RawSQL(guard["training_required"], (), BooleanField()),
                is_inspector=RawSQL(
                    guard["is_inspector"], (user.pk, INSPECTOR_GROUP), BooleanField()
                ),
            )
            # Owning the assignment is enough: assignments are made only for
            # the campaign's inspectors (``create_campaign``).
            .get(
                pk=assignment_pk,
                campaign_id=campaign_pk,
                inspector=user,
                campaign__status__in=Campaign.VISIBLE,
            )
        )
    except Assignment.DoesNotExist:
        return None
    assignment.inspector = user  # the filter says so; saves a join
    return assignment


def answer_training(user: User, item_pk: int, value: object) -> dict:
    """Record a training answer; returns feedback (truth, Einstein radius,
    and whether the training is now passed or failed). The first answer to
    an item counts; a repeated one gets the same feedback."""
    grade = check_grade(value)
    items, answers, passed, _ = training_state(user)
    item = next((i for i in items if i.pk == int(item_pk)), None)
    if item is None:
        raise NotInTraining("That item is not in your training set.")
    correct = is_correct(grade, item.is_lens)
    with transaction.atomic():
        try:
            with transaction.atomic():
                TrainingAnswer.objects.create(
                    inspector=user, item=item, grade=grade, correct=correct
                )
        except IntegrityError:
            pass  # answered already: the first answer counts
        else:
            _count_known(user, item.is_lens, correct, training=True)
    items, answers, passed, fraction = training_state(user)
    outcome = None
    if len(answers) == len(items) and not passed:
        policy = TrainingPolicy.current()
        outcome = "passed" if fraction >= policy.pass_mark else "failed"
        if outcome == "passed":
            Skill.objects.filter(inspector=user).update(passed_at=timezone.now())
        TrainingAttempt.objects.filter(
            inspector=user, number=current_attempt(user).number, finished_at__isnull=True
        ).update(
            finished_at=timezone.now(),
            n_right=sum(a.correct for a in answers.values()),
            passed=outcome == "passed",
        )
    first = answers[item.pk]
    return {
        "item": item.pk,
        "grade": first.grade,
        "is_lens": item.is_lens,
        "kind": item.kind,
        "theta_e_arcsec": item.theta_e_arcsec,
        "correct": first.correct,
        "answered": len(answers),
        "total": len(items),
        "fraction_correct": fraction,
        "outcome": outcome or ("passed" if passed else None),
    }


def training_failed(user: User) -> bool:
    """Whether the inspector has answered every item of the current attempt
    without passing (and so may retake)."""
    items, answers, passed, _ = training_state(user)
    return bool(items) and not passed and len(answers) == len(items)


def retake_training(user: User) -> TrainingAttempt:
    """Start the next attempt after a failed one: items not shown before
    first, in a new order (``teaching.draw_attempt``). The failed attempt's
    answers are deleted (the skill counts keep them). Refused (409) unless
    the current attempt is finished and failed; two retakes sent at once
    start one attempt."""
    with transaction.atomic():
        skill_of(user)
        Skill.objects.select_for_update().get(inspector=user)  # one retake at a time
        if not training_failed(user):
            raise TrainingNotFailed("Retake the training once an attempt has failed.")
        policy = TrainingPolicy.current()
        earlier = list(TrainingAttempt.objects.filter(inspector=user).order_by("number"))
        number = earlier[-1].number + 1
        items = _draw(user, number, _training_pool(policy), policy.n_items, earlier)
        answers = TrainingAnswer.objects.filter(inspector=user)
        # An attempt failed before attempts were recorded ends here.
        TrainingAttempt.objects.filter(pk=earlier[-1].pk, finished_at__isnull=True).update(
            finished_at=timezone.now(), n_right=answers.filter(correct=True).count(), passed=False
        )
        answers.delete()
        return TrainingAttempt.objects.create(inspector=user, number=number, items=items)


def answered_item(user: User, item_pk: int) -> KnownItem:
    """One of the inspector's current training items that they have answered
    (its truth may be shown: the reveal view, the review). Raises
    :class:`NotInTraining` (404) for an item not theirs and
    :class:`NotAnsweredYet` (403) for one not answered yet."""
    item = next((i for i in training_items(user) if i.pk == int(item_pk)), None)
    if item is None:
        raise NotInTraining("Not one of your training stamps.")
    if not TrainingAnswer.objects.filter(inspector=user, item=item).exists():
        raise NotAnsweredYet("Answer this item first: its truth is shown after your answer.")
    return item


def einstein_circle(item: KnownItem) -> float | None:
    """The item's Einstein radius as a fraction of its stamp's width
    (``teaching.circle_fraction``), or None (a non-lens, no radius)."""
    if item.theta_e_arcsec is None:
        return None
    known = item.known_set
    width = _stamps_of(known).cube.shape[-1]
    return teaching.circle_fraction(item.theta_e_arcsec, known.pixscale_arcsec, width)


def training_review(user: User) -> list[tuple[KnownItem, TrainingAnswer]]:
    """The current attempt's wrong answers, in the order the items were
    shown: (item, answer)."""
    items, answers, _, _ = training_state(user)
    return [(i, answers[i.pk]) for i in items if i.pk in answers and not answers[i.pk].correct]


# --- Campaigns -------------------------------------------------------------------


def create_campaign(
    run: ScoringRun | None,
    name: str,
    inspectors: Iterable[User],
    known_fraction: float = 0.07,
    known_sets: Iterable[KnownSet] | None = None,
    parent: Campaign | None = None,
    parent_total: int | None = None,
    user: User | None = None,
    seed: int | None = None,
    class_bounds: tuple[float, float, float] | None = None,
    inject_lenses: int = 0,
) -> Campaign:
    """A campaign over a run's candidates (or, with ``parent`` and
    ``parent_total``, over the parent campaign's candidates whose grades sum
    to that total: the paper's further vote), every item to every inspector
    in an independent random order, with known items mixed in.
    ``class_bounds``: the lowest mean grade of classes A, B and C (None: the
    defaults, ``consensus.CLASS_DEFAULTS``). ``inject_lenses``: lenses to
    simulate onto non-candidate LRGs and mix in (``inspection.completeness``;
    made by :func:`inspection.completeness.services.build_injections`, which
    the caller runs or queues; the campaign cannot open before)."""
    from inspection.completeness.services import CompletenessError, check_injections

    try:
        inject_lenses = check_injections(inject_lenses)
    except CompletenessError as exc:
        raise GradingError(str(exc)) from None
    if not 0 <= float(known_fraction) <= 0.5:
        raise GradingError(f"The share of known items must be 0-0.5, not {known_fraction}.")
    inspectors = list(inspectors)
    if not inspectors:
        raise GradingError("Choose at least one inspector.")
    try:
        bounds = consensus.check_class_thresholds(
            *(class_bounds or consensus.CLASS_DEFAULTS.values())
        )
    except consensus.ConsensusError as exc:
        raise GradingError(str(exc)) from None
    if parent is not None:
        if parent_total is None:
            raise GradingError("A further vote needs the total score to select (e.g. 3).")
        totals = totals_by_source(parent)
        sources = [s for s, t in totals.items() if t == int(parent_total)]
    else:
        sources = list(run.candidates().values_list("source_id", flat=True))
    if not sources:
        raise GradingError("There is no candidate to grade in that selection.")
    if known_sets is None:
        known_sets = list(TrainingPolicy.current().known_sets.all())
    pool = known_pool(run.survey, known_sets, inspectors) if known_fraction else []
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name,
            run=run,
            known_fraction=known_fraction,
            parent=parent,
            parent_total=parent_total,
            created_by=user,
            class_a_min=bounds[0],
            class_b_min=bounds[1],
            class_c_min=bounds[2],
            inject_lenses=inject_lenses,
        )
        campaign.inspectors.set(inspectors)
        items = CampaignItem.objects.bulk_create(
            CampaignItem(campaign=campaign, source_id=s) for s in sources
        )
        if pool:
            n_known = int(round(len(sources) * known_fraction / (1 - known_fraction)))
            rng = random.Random(f"known-{campaign.pk}-{seed}")
            picked = rng.sample(pool, min(max(n_known, 1), len(pool)))
            items += CampaignItem.objects.bulk_create(
                CampaignItem(campaign=campaign, known=k) for k in picked
            )
        rows = []
        for inspector in inspectors:
            order = list(items)
            random.Random(f"order-{campaign.pk}-{inspector.pk}-{seed}").shuffle(order)
            rows += [
                Assignment(campaign=campaign, inspector=inspector, item=it, position=p)
                for p, it in enumerate(order)
            ]
        Assignment.objects.bulk_create(rows, batch_size=2000)
    return campaign


def known_pool(
    survey: Survey, known_sets: Iterable[KnownSet] | None, inspectors: Sequence[User]
) -> list:
    """The known items that may be mixed into a campaign on ``survey``: never
    one whose truth training shows (``for_training``, or answered in training
    by one of the inspectors before the sets were split), never one an
    inspector of the campaign has graded before, and only from sets
    whose stamps can be shown exactly as the survey's, so that nothing but
    the stamp's content tells a known item from a candidate."""
    usable, refused = [], []
    for known in known_sets:
        why = known_set_mismatch(known, survey)
        if why:
            refused.append(f"{known.name}: the stamps {why}")
        else:
            usable.append(known)
    answered = TrainingAnswer.objects.filter(inspector__in=inspectors).values("item_id")
    # Nor one that an inspector graded in an earlier campaign: after grading,
    # the discussion pages tell candidates from known items (only candidates
    # have a sky position and a thread), so a known item shown twice could be
    # recognised and answered from memory.
    seen = Assignment.objects.filter(inspector__in=inspectors, item__known__isnull=False).values(
        "item__known_id"
    )
    pool = list(
        KnownItem.objects.filter(known_set__in=usable, for_training=False)
        .exclude(pk__in=answered)
        .exclude(pk__in=seen)
        .order_by("known_set_id", "stamp_index")
    )
    if not pool and refused:
        raise GradingError(
            f"No known item can be mixed into a campaign on {survey.name} "
            f"({'; '.join(refused)}): add a known set cut like the survey's stamps, "
            "or set the share of known items to 0."
        )
    return pool


def set_status(campaign: Campaign, status: str) -> Campaign:
    if status not in Campaign.Status.values:
        raise GradingError(f"A campaign is {', '.join(Campaign.Status.values)}, not {status!r}.")
    if status != Campaign.Status.DRAFT and campaign.injections_pending:
        raise GradingError(
            f"Campaign {campaign.name!r}: its injected lenses are still being made (see its "
            "job); open it once they are mixed in."
        )
    campaign.status = status
    campaign.save(update_fields=["status"])
    return campaign


#: Assignments an inspector still sees: not withdrawn, or graded (a grade
#: given is never taken away from its inspector).
SHOWN = Q(withdrawn_at__isnull=True) | Q(grade__isnull=False)


def assignments_for(campaign: Campaign, user: User) -> QuerySet[Assignment]:
    """The inspector's assignments in their order, with their grades
    (withdrawn ones left out, unless graded)."""
    return campaign.assignments.filter(SHOWN, inspector=user).select_related("grade")


def record_grade(
    assignment: Assignment,
    value: object,
    comment: str = "",
    view: dict | None = None,
    seconds: float | None = None,
) -> tuple[Grade, bool]:
    """Save a grade on the spot; returns (grade, changed). Every change
    appends to the history; repeating the same grade changes nothing (its
    ``seconds`` included). ``seconds``: this submission's time on task
    (``grade_body.check_seconds``), added to the grade's.

    In a campaign with retirement or escalation (:func:`policy_of`) the
    item's row is locked first, so that the grades of one item are saved one
    after another and each decision sees every grade before it. A grade on
    an assignment withdrawn a moment ago is saved like any other: an
    inspector never loses a grade they gave."""
    grade_value = check_grade(value)
    try:
        comment = grade_body.check_text("comment", comment or "", MAX_COMMENT)
        view = {
            k: grade_body.check_text(k, str(v), grade_body.MAX_VIEW_CHARS)
            for k, v in (view or {}).items()
            if k in grade_body.VIEW_KEYS
        }
        seconds = grade_body.check_seconds(seconds)
    except grade_body.GradeBodyError as exc:
        raise GradingError(str(exc)) from None
    campaign = assignment.campaign
    if campaign.status != Campaign.Status.OPEN:
        raise GradesClosed(f"Campaign {campaign.name!r} is {campaign.status}: grades are closed.")
    # Items of known truth count for the skills: known items, and injected
    # lenses (``inspection.completeness``).
    known = assignment.item.known or (_InjectedLens if assignment.item.injection_id else None)
    policy = policy_of(campaign)
    with transaction.atomic():
        if policy.active:
            item = CampaignItem.objects.select_for_update().get(pk=assignment.item_id)
        try:
            with transaction.atomic():
                grade = Grade.objects.create(
                    assignment=assignment,
                    grade=grade_value,
                    comment=comment,
                    view=view,
                    seconds=seconds,
                )
            old = None
        except IntegrityError:
            grade = Grade.objects.select_for_update().get(assignment=assignment)
            if (grade.grade, grade.comment, grade.view) == (grade_value, comment, view):
                return grade, False
            old = grade.grade
            grade.grade, grade.comment, grade.view = grade_value, comment, view
            if seconds is not None:
                grade.seconds = (grade.seconds or 0.0) + seconds
            grade.updated_at = timezone.now()
            grade.save(update_fields=["grade", "comment", "view", "seconds", "updated_at"])
        GradeChange.objects.create(
            grade=grade, value=grade_value, comment=comment, view=view, seconds=seconds
        )
        if known is not None:
            if old is None:
                _count_known(
                    assignment.inspector, known.is_lens, is_correct(grade_value, known.is_lens)
                )
            elif is_correct(old, known.is_lens) != is_correct(grade_value, known.is_lens):
                field = "lens_right" if known.is_lens else "not_right"
                delta = 1 if is_correct(grade_value, known.is_lens) else -1
                Skill.objects.filter(inspector=assignment.inspector).update(
                    **{field: F(field) + delta}
                )
        if policy.active:
            _adapt(item, campaign, policy)
    return grade, True


class _InjectedLens:
    """What :func:`record_grade` reads of a known item, for an injected lens."""

    is_lens = True


def progress_by_inspector(campaign: Campaign) -> list[tuple[str, int, int]]:
    """[(inspector, graded, total)] for the admin's campaign page."""
    rows = (
        campaign.assignments.values("inspector__username")
        .annotate(total=Count("id", filter=SHOWN), graded=Count("grade"))
        .order_by("inspector__username")
    )
    return [(r["inspector__username"], r["graded"], r["total"]) for r in rows]


def totals_by_source(campaign: Campaign) -> dict[int, int]:
    """Summed grades per candidate source (known items excluded)."""
    rows = (
        Grade.objects.filter(assignment__campaign=campaign, assignment__item__source__isnull=False)
        .values("assignment__item__source")
        .annotate(total=Sum("grade"))
    )
    return {r["assignment__item__source"]: r["total"] for r in rows}


def disagreements(campaign: Campaign) -> set[int]:
    """Candidate items whose grades differ by 2 or more (a 0 and a 2), by
    the rule of the catalogues (``consensus.disagreements``)."""
    rows = list(
        Grade.objects.filter(
            assignment__campaign=campaign, assignment__item__source__isnull=False
        ).values_list("assignment__item_id", "assignment__inspector_id", "grade")
    )
    items = {i: n for n, i in enumerate(sorted({r[0] for r in rows}))}
    inspectors = {u: n for n, u in enumerate(sorted({r[1] for r in rows}))}
    grades = np.full((len(items), len(inspectors)), np.nan)
    for item_id, inspector_id, value in rows:
        grades[items[item_id], inspectors[inspector_id]] = value
    ids = list(items)
    return {ids[n] for n in np.flatnonzero(consensus.disagreements(grades))}


# --- Adaptive retirement and escalation (``adaptive``) ------------------------------


def policy_of(campaign: Campaign) -> adaptive.Policy:
    """The campaign's retirement and escalation settings."""
    return adaptive.Policy(
        retire_after=campaign.retire_after,
        escalate_to=campaign.escalate_to,
        extra=campaign.escalate_extra,
        band=campaign.escalate_band,
    )


def set_policy(campaign: Campaign, policy: adaptive.Policy) -> int:
    """Save a campaign's retirement and escalation settings and apply them
    to the grades already given (an item retires, or comes back, as the new
    k says); returns the number of items looked at."""
    campaign.retire_after = policy.retire_after
    campaign.escalate_to = policy.escalate_to
    campaign.escalate_extra = policy.extra
    campaign.escalate_band = policy.band
    campaign.save(update_fields=["retire_after", "escalate_to", "escalate_extra", "escalate_band"])
    graded = (
        campaign.items.filter(assignments__grade__isnull=False)
        .distinct()
        .values_list("pk", flat=True)
    )
    n = 0
    for pk in list(graded):
        with transaction.atomic():
            _adapt(CampaignItem.objects.select_for_update().get(pk=pk), campaign, policy)
        n += 1
    return n


def _adapt(item: CampaignItem, campaign: Campaign, policy: adaptive.Policy) -> None:
    """Retire, un-retire or escalate one item from its grades; the caller
    holds the item's row lock (its grades are saved one after another)."""
    rows = list(
        Grade.objects.filter(assignment__item=item)
        .order_by("pk")  # the order saved in: under the item's lock, that of the ids
        .values_list("grade", "assignment__inspector_id")
    )
    values = [g for g, _ in rows]
    now = timezone.now()
    changed = []
    ungraded = Assignment.objects.filter(item=item, grade__isnull=True)
    if adaptive.retires(values, policy.retire_after):
        if item.retired_at is None:
            item.retired_at = now
            changed.append("retired_at")
            ungraded.filter(withdrawn_at__isnull=True).update(withdrawn_at=now)
    elif item.retired_at is not None:
        item.retired_at = None
        changed.append("retired_at")
        ungraded.filter(withdrawn_at__isnull=False).update(withdrawn_at=None)
    if item.retired_at is None and item.escalated_at is None and policy.escalate_to != "off":
        complete = not ungraded.filter(withdrawn_at__isnull=True).exists()
        posterior = _posterior(item, campaign, rows) if complete and policy.band > 0 else None
        why = adaptive.escalation(policy, values, posterior, complete)
        if why:
            item.escalated_at = now
            added = 0
            if policy.escalate_to == "inspectors":
                added = _add_inspectors(item, campaign, policy.extra, [i for _, i in rows])
            item.escalation = f"{why}: to {policy.escalate_to}" + (
                f" ({added} added)" if policy.escalate_to == "inspectors" else ""
            )
            changed += ["escalated_at", "escalation"]
    if changed:
        item.save(update_fields=changed)


def _posterior(item, campaign, rows):
    """The item's Space Warps posterior after its grades, from the network's
    prior-mapped score as the catalogue's (a known item has no score: it
    starts at the survey's lens prior)."""
    # Imported here: the catalogues' services import this module.
    from inspection.catalogues import services as catalogues
    from inspection.models import Score

    run = campaign.run
    p0 = run.survey.lens_prior
    if item.source_id:
        score = Score.objects.filter(run=run, source_id=item.source_id).values_list(
            "score", flat=True
        )
        if score:
            p0 = float(catalogues.prior_p_lens(run, score[0]))
    elif item.injection_id:  # as the candidate it poses as
        p0 = float(catalogues.prior_p_lens(run, item.injection.score))
    grades = np.array([[g for g, _ in rows]], float)
    p_lens, p_not = catalogues.inspector_skills([i for _, i in rows])
    return float(consensus.space_warps_posterior(p0, grades, p_lens, p_not)[0])


def _add_inspectors(item, campaign, n, seen):
    """Extra assignments of an escalated item to ``n`` inspectors who have
    not seen it (no assignment of it; for a known item, not answered in
    training either), at the end of their own order; they join the
    campaign. Returns how many were added."""
    users = get_user_model().objects.filter(groups__name=INSPECTOR_GROUP, is_active=True)
    users = users.exclude(assignments__item=item).exclude(pk__in=seen)
    if item.known_id:
        users = users.exclude(training_answers__item_id=item.known_id)
    if TrainingPolicy.current().known_sets.exists():
        users = users.filter(skill__passed_at__isnull=False)
    chosen = adaptive.pick_extra(list(users.values_list("pk", flat=True)), n, f"extra-{item.pk}")
    if not chosen:
        return 0
    # Positions are unique per inspector: escalations of two items at once
    # would both take max + 1, so they take turns on the campaign's row.
    Campaign.objects.select_for_update().only("pk").get(pk=campaign.pk)
    last = dict(
        Assignment.objects.filter(campaign=campaign, inspector_id__in=chosen)
        .values_list("inspector_id")
        .annotate(last=Max("position"))
    )
    Assignment.objects.bulk_create(
        Assignment(
            campaign=campaign,
            inspector_id=pk,
            item=item,
            position=last.get(pk, -1) + 1,
            extra=True,
        )
        for pk in chosen
    )
    campaign.inspectors.add(*chosen)
    return len(chosen)


def withdrawn_ids(campaign: Campaign, user: User) -> list[int]:
    """The inspector's assignments withdrawn ungraded (the grading page drops
    them from its list)."""
    return list(
        campaign.assignments.filter(
            inspector=user, withdrawn_at__isnull=False, grade__isnull=True
        ).values_list("pk", flat=True)
    )


def retirement_cost(campaign: Campaign) -> adaptive.RetirementCost:
    """Gradings saved by retirement, and the known and injected lenses it
    retired as 0."""
    known_lenses = campaign.items.filter(known__is_lens=True)
    injected = campaign.items.filter(injection__isnull=False)
    return adaptive.RetirementCost(
        withdrawn=campaign.assignments.filter(
            withdrawn_at__isnull=False, grade__isnull=True
        ).count(),
        assignments=campaign.assignments.count(),
        retired=campaign.items.filter(retired_at__isnull=False).count(),
        known_lenses=known_lenses.count(),
        known_lenses_retired=known_lenses.filter(retired_at__isnull=False).count(),
        injected_lenses=injected.count(),
        injected_lenses_retired=injected.filter(retired_at__isnull=False).count(),
    )


def escalated_items(campaign: Campaign) -> QuerySet[CampaignItem]:
    return (
        campaign.items.filter(escalated_at__isnull=False)
        .select_related("source", "known")
        .order_by("escalated_at", "pk")
    )


# --- Inspector effort (``effort``) -----------------------------------------------


def effort_rows(campaign: Campaign) -> list[effort.Timed]:
    """Every grade of the campaign with its time on task, inspectors by
    code (``I1``, ... in the order of their ids, as in the catalogues)."""

    ids = sorted(campaign.inspectors.values_list("pk", flat=True))
    code = dict(zip(ids, consensus.inspector_codes(ids), strict=True))
    rows = (
        Grade.objects.filter(assignment__campaign=campaign)
        .order_by("assignment__inspector_id", "created_at", "pk")
        .values_list("assignment__inspector_id", "assignment__item_id", "grade", "seconds")
    )
    return [
        effort.Timed(inspector=code.get(i, f"user{i}"), item=item, grade=g, seconds=s)
        for i, item, g, s in rows
    ]


def inspector_codes_of(campaign: Campaign) -> dict[str, str]:
    """Inspector code -> username, for the admins' page (exports keep the codes)."""

    users = dict(campaign.inspectors.values_list("pk", "username"))
    ids = sorted(users)
    return {c: users[pk] for c, pk in zip(consensus.inspector_codes(ids), ids, strict=True)}


def known_set_from_images(
    name: str,
    paths: Sequence[str | Path],
    is_lens: bool = True,
    pixscale_arcsec: float | None = None,
    folder: str | Path | None = None,
    description: str = "",
) -> KnownSet:
    """A known set from FITS images of real lenses (or non-lenses): each file
    a 2-d r-band image or a (3, H, W) g,r,i cube, centred on the object. The
    images are centre-cropped to the smallest common size and written into a
    stamp set under ``folder``."""
    from pathlib import Path

    from astropy.io import fits
    from astropy.wcs import WCS

    from simulations.stampset import StampSetWriter

    # Before anything is written: the folder may be that of the set that
    # holds the name (``add_known_set --images`` writes into known/<name>/).
    _check_new_known_name(name)
    images, scales = [], []
    for path in paths:
        try:
            with fits.open(path) as hdul:
                hdu = next((h for h in hdul if h.data is not None and h.data.ndim in (2, 3)), None)
                if hdu is None:
                    raise GradingError(f"{path}: no 2-d image or (3, H, W) cube in any HDU.")
                data = np.asarray(hdu.data, dtype=np.float32)
                header = hdu.header
        except OSError as exc:
            raise GradingError(f"{path} is not a readable FITS file ({exc}).") from exc
        if data.ndim == 3 and data.shape[0] != 3:
            raise GradingError(f"{path}: a cube must hold the 3 bands g,r,i, not {data.shape[0]}.")
        images.append(data[None] if data.ndim == 2 else data)
        if "PIXSCALE" in header:
            scales.append(float(header["PIXSCALE"]))
        else:
            wcs = WCS(header, naxis=2)
            if wcs.has_celestial:
                scales.append(
                    float(np.mean(np.abs(wcs.celestial.proj_plane_pixel_scales())) * 3600)
                )
    if not images:
        raise GradingError("Give at least one image.")
    n_bands = {im.shape[0] for im in images}
    if len(n_bands) > 1:
        raise GradingError("Give all images with the same bands (all r, or all g,r,i cubes).")
    pixscale = pixscale_arcsec or (float(np.median(scales)) if scales else None)
    if not pixscale:
        raise GradingError("The images have no PIXSCALE or WCS: give the pixel scale (arcsec).")
    size = min(min(im.shape[1:]) for im in images)
    cube = np.stack(
        [
            im[
                :,
                (im.shape[1] - size) // 2 : (im.shape[1] - size) // 2 + size,
                (im.shape[2] - size) // 2 : (im.shape[2] - size) // 2 + size,
            ]
            for im in images
        ]
    )
    bands = ["r"] if n_bands == {1} else ["g", "r", "i"]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}.fits"
    if out.exists():
        raise GradingError(
            f"{out} exists already (left by an earlier set?): move it away, or choose another name."
        )
    with StampSetWriter(out, len(cube), bands, (size, size), pixscale, survey="real") as w:
        w.write(
            cube,
            {
                "id": [Path(p).name for p in paths],
                "label": np.full(len(cube), 1 if is_lens else 0),
                "kind": ["real lens" if is_lens else "real"] * len(cube),
            },
        )
    try:
        return _known_from_stamps(name, out, description, allow_one_class=True)
    except BaseException:
        out.unlink(missing_ok=True)
        raise


# --- Inspector accounts -----------------------------------------------------------


class AccountError(ValueError):
    """A user could not be created; the message says why and what to do."""


def inspector_group() -> Group:
    group, _ = Group.objects.get_or_create(name=INSPECTOR_GROUP)
    return group


def new_password() -> str:
    """A random password that is easy to read out (no look-alike characters)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


def _check_username(username):
    User = get_user_model()
    field = User._meta.get_field("username")
    try:
        field.run_validators(username)
    except ValidationError as exc:
        raise AccountError(f"Username {username!r}: {' '.join(exc.messages)}") from exc
    if not username:
        raise AccountError("A username is required.")


@transaction.atomic
def create_inspector(
    username: str,
    password: str | None = None,
    email: str = "",
    full_name: str = "",
    validate: bool = True,
) -> tuple[User, str]:
    """Create an inspector; returns ``(user, password)``.

    A password is generated when none is given. ``validate=False`` skips
    Django's password rules (used for the demo accounts only).
    """
    User = get_user_model()
    username = (username or "").strip()
    _check_username(username)
    if User.objects.filter(username__iexact=username).exists():
        raise AccountError(
            f"A user named {username!r} already exists: choose another username "
            "(or change that user's groups in Django admin)."
        )
    password = password or new_password()
    first, _, last = (full_name or "").strip().partition(" ")
    user = User(username=username, email=email, first_name=first, last_name=last)
    if validate:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise AccountError(f"Password rejected: {' '.join(exc.messages)}") from exc
    user.set_password(password)
    user.save()
    user.groups.add(inspector_group())
    return user, password


@transaction.atomic
def ensure_user(
    username: str, password: str, *, admin: bool = False, inspector: bool = False
) -> tuple[User, bool]:
    """Create the user if missing; an existing user keeps its password and data.

    Returns ``(user, created)``. Used by the demo set-up, which must be safe
    to run again.
    """
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password(password)
        user.is_staff = user.is_superuser = admin
        user.save()
    if inspector:
        user.groups.add(inspector_group())
    return user, created


# --- Stamp previews ---------------------------------------------------------------
#
# PNG previews of stamps (r band or g,r,i composite), rendered once and cached
# on disk under ``DATA_DIR/previews`` so that no grading request renders.
# No torch here: the web process serves these.
#
# Pictures come from the one imaging layer (``core.display``); each cache
# folder records the ``core.display.RENDERING`` its files were made under, and
# files made under another are dropped the first time a process uses the
# folder, so that a change of rendering never serves stale previews.


KINDS = ("r", "rgb")


class PreviewError(ValueError):
    """No such stamp or preview; the message says which."""


@lru_cache(maxsize=8)
def _stampset(path, mtime):
    return read_stampset(path)


def rgb_bands(survey: Survey | KnownSet) -> list[int] | None:
    """Indices of g, r, i in the cube, or None."""
    bands = survey.band_list
    if display.has_rgb(bands):
        return [bands.index(b) for b in "gri"]
    return None


def kinds_of(survey: Survey) -> tuple:
    """The previews a survey's stamps have: r, and rgb where it has g, r, i."""
    return KINDS if rgb_bands(survey) is not None else ("r",)


def _stamps_of(owner):
    path = owner.stamps_file()
    try:
        return _stampset(str(path), path.stat().st_mtime)
    except (OSError, StampSetError) as exc:
        raise PreviewError(f"The stamps of {owner.name} cannot be read: {exc}") from exc


def stamp_image(
    owner: Survey | KnownSet, index: int, kind: str, like: Survey | None = None
) -> np.ndarray:
    """The picture of one stamp of a survey (or a known set: anything with
    ``stamps_file()``, ``band_list`` and ``name``): a 2-d float r-band stamp,
    or an (H, W, 3) uint8 g,r,i composite.

    With ``like`` (a survey), the stamp is shown as that survey's stamps
    are: cropped to its stamp size, its grey band, an RGB composite only
    where it has one (``known_set_mismatch`` tells whether that can be done).
    """
    stamps = _stamps_of(owner)
    if not 0 <= index < len(stamps):
        raise PreviewError("No such stamp.")
    cube = stamps.stamps(index)
    shown = like or owner
    if like is not None:
        if kind == "rgb" and rgb_bands(like) is None:
            raise PreviewError(f"{like.name} has no g, r and i bands for an RGB composite.")
        cube = cutouts.centre_crop(cube, like.stamp_size)
    if kind == "rgb":
        bands = rgb_bands(owner)
        if bands is None:
            raise PreviewError(f"{owner.name} has no g, r and i bands for an RGB composite.")
        return display.lupton_rgb(cube[bands[0]], cube[bands[1]], cube[bands[2]])
    grey = display.grey_band(shown.band_list)
    if grey not in owner.band_list:
        raise PreviewError(f"{owner.name} has no {grey} band.")
    return cube[owner.band_list.index(grey)]


def known_set_mismatch(known: KnownSet, survey: Survey) -> str | None:
    """Why the stamps of a known set cannot be shown exactly as the survey's
    (``cutouts.field_mismatch``), or None when they can."""
    try:
        stamps = _stamps_of(known)
    except PreviewError as exc:
        return f"cannot be read ({exc})"
    return cutouts.field_mismatch(
        known.band_list,
        known.pixscale_arcsec,
        stamps.cube.shape[-2:],
        survey.band_list,
        survey.pixscale_arcsec,
        survey.stamp_size,
    )


#: Cache folders this process has found (or made) current with ``display.RENDERING``.
_CURRENT = set()
_RENDERING_FILE = ".rendering"


def _cache_folder(key):
    """``DATA_DIR/previews/<key>``, emptied of previews rendered under another
    ``display.RENDERING`` (checked once per process and folder)."""
    folder = Path(settings.DATA_DIR) / "previews" / key
    if str(folder) in _CURRENT:
        return folder
    marker = folder / _RENDERING_FILE
    try:
        current = marker.read_text() == display.RENDERING
    except OSError:
        current = False
    if not current:
        for stale in folder.glob("*.png"):
            stale.unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(marker, display.RENDERING.encode())
    _CURRENT.add(str(folder))
    return folder


def render_preview(
    survey: Survey | KnownSet,
    index: int,
    kind: str,
    stretch: str,
    cache_key: str | None = None,
    like: Survey | None = None,
) -> bytes:
    """PNG bytes of one stamp (see :func:`stamp_image`), cached on disk:
    rendered once, never twice on the grading request path. With a scale
    bar from the pixel scale of the stamps as shown (``like``'s, if given)."""
    key = cache_key or str(survey.pk)
    cache = _cache_folder(key) / f"{index}-{kind}-{stretch}.png"
    try:
        return cache.read_bytes()
    except FileNotFoundError:
        pass  # not rendered yet (or just dropped by a refresh of the folder)
    image = stamp_image(survey, index, kind, like=like)
    pixscale = (like or survey).pixscale_arcsec
    png = display.render_png(image, stretch=stretch, pixscale_arcsec=pixscale)
    cache.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(cache, png)
    return png


def render_item(item: CampaignItem, survey: Survey, kind: str, stretch: str) -> bytes:
    """PNG bytes of a campaign item as its inspectors see it: a candidate's
    stamp, or a known item cut and rendered exactly as the survey's stamps
    (``like``), so that only what is in the stamp tells the two apart."""
    if item.source_id:
        return render_preview(survey, item.source.stamp_index, kind, stretch)
    if item.injection_id:
        from inspection.completeness.services import InjectionStamps

        stamps = InjectionStamps(item.campaign_id, survey)
        return render_preview(
            stamps, item.injection.stamp_index, kind, stretch, cache_key=stamps.pk
        )
    known = item.known
    return render_preview(
        known.known_set,
        known.stamp_index,
        kind,
        stretch,
        cache_key=f"known-{known.known_set_id}-as-{survey.pk}",
        like=survey,
    )


def prerender_campaign(
    campaign: Campaign,
    stretches: Iterable[str] = ("asinh",),
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Render every preview a campaign's inspectors will ask for (default
    stretch), so grading requests only read cached files."""
    survey = campaign.run.survey
    items = list(campaign.items.select_related("source", "known__known_set", "injection"))
    for n, item in enumerate(items, 1):
        for kind in kinds_of(survey):
            for stretch in stretches:
                render_item(item, survey, kind, stretch)
        if progress:
            progress(n, len(items))
    return len(items)
