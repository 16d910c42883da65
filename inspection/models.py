"""The state of a search: surveys, their tiles and LRGs, scoring runs and scores.

Pixels never live in the database: a survey's stamps are one stamp-set file
(docs/stampset.md) and each ``Source`` points at its row there (``stamp_index``).
"""

from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import Job
from inspection.catalogues.consensus import CLASS_DEFAULTS

# Stamp flags (the same bits as inspection.ingest.cutouts.EDGE / OUTSIDE).
FLAG_EDGE = 1
FLAG_OUTSIDE = 2


class StampsOnDisk:
    """For models with ``bands`` (comma-separated) and a ``stamps_path``
    relative to the data dir (or absolute)."""

    @property
    def band_list(self):
        return self.bands.split(",")

    def stamps_file(self):
        path = Path(self.stamps_path)
        return path if path.is_absolute() else Path(settings.DATA_DIR) / path


class Survey(StampsOnDisk, models.Model):
    """An ingested survey: its catalogue's LRGs, their stamps and the funnel
    of the selection that chose them."""

    class Origin(models.TextChoices):
        TILES = "tiles", "cut from image tiles"
        STAMPS = "stamps", "pre-cut stamp set"

    name = models.SlugField(max_length=80, unique=True)
    bands = models.CharField(max_length=32, help_text="comma-separated, in stamp-cube order")
    pixscale_arcsec = models.FloatField(help_text="pixel scale of the stamps, arcsec")
    stamp_size = models.PositiveIntegerField(help_text="stamp side, pixels")
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.TILES)
    catalogue_path = models.CharField(max_length=500, blank=True)
    catalogue_sha256 = models.CharField(max_length=64, blank=True)
    columns = models.JSONField(default=dict, blank=True, help_text="field -> catalogue column")
    cuts = models.JSONField(default=dict, blank=True, help_text="LRG selection thresholds")
    funnel = models.JSONField(default=list, blank=True, help_text="[[label, count], ...]")
    stamps_path = models.CharField(
        max_length=500, help_text="stamp-set file; relative to the data dir"
    )
    n_catalogue = models.PositiveBigIntegerField(default=0, help_text="catalogue rows read")
    lens_prior = models.FloatField(
        default=1e-3,
        help_text="expected fraction of lenses among the LRGs: the prior of the consensus "
        "posterior (He et al. 2020 kept 48 of 28,815 LRGs, 1.7e-3)",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-created_at", "name"]

    def __str__(self):
        return self.name

    def stamp_counts(self):
        """LRGs, refined LRGs, stamps padded at an edge (scored) and sources
        outside every tile (not scored), in one query."""
        by_flag = dict(
            self.sources.values_list("stamp_flags").annotate(n=models.Count("id")).order_by()
        )
        refined = self.sources.filter(is_refined=True).count()
        return {
            "lrgs": sum(by_flag.values()),
            "refined": refined,
            "edge": by_flag.get(FLAG_EDGE, 0),
            "outside": sum(n for f, n in by_flag.items() if f >= FLAG_OUTSIDE),
        }

    def sample(self, refined=False):
        """The LRGs a run scores: all with a stamp, or the refined ones."""
        sources = self.sources.exclude(stamp_flags__gte=FLAG_OUTSIDE)
        return sources.filter(is_refined=True) if refined else sources


class Tile(models.Model):
    """One image of one band (any celestial WCS), registered by path."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="tiles")
    band = models.CharField(max_length=16)
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64, blank=True)
    width_px = models.PositiveIntegerField()
    height_px = models.PositiveIntegerField()
    ra_deg = models.FloatField(help_text="centre")
    dec_deg = models.FloatField(help_text="centre")
    n_sources = models.PositiveIntegerField(default=0, help_text="LRGs cut from this tile")

    class Meta:
        ordering = ["survey", "band", "path"]

    def __str__(self):
        return f"{self.survey.name} {self.band}: {self.path}"


class Source(models.Model):
    """A selected LRG and the row of its stamp in the survey's stamp set."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=40, help_text="KIDS JHHMMSS.ss+DDMMSS.ss")
    catalogue_id = models.CharField(max_length=80)
    ra_deg = models.FloatField()
    dec_deg = models.FloatField()
    mag_g = models.FloatField(null=True, blank=True)
    mag_r = models.FloatField(null=True, blank=True)
    mag_i = models.FloatField(null=True, blank=True)
    mag_auto = models.FloatField(null=True, blank=True)
    is_refined = models.BooleanField(default=False, help_text="in the refined sample (FLAG_R = 0)")
    stamp_index = models.PositiveIntegerField(help_text="row in the survey's stamp set")
    stamp_flags = models.PositiveSmallIntegerField(
        default=0, help_text="1 = padded at a tile edge, 2 = outside every tile (no stamp)"
    )

    class Meta:
        ordering = ["survey", "stamp_index"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "stamp_index"], name="source_stamp_unique")
        ]

    def __str__(self):
        return self.name

    @property
    def at_edge(self):
        return bool(self.stamp_flags & FLAG_EDGE)

    @property
    def outside(self):
        return bool(self.stamp_flags & FLAG_OUTSIDE)


class ScoringRun(models.Model):
    """A network scoring every stamp of a sample, split into chunks that any
    number of workers share. Every score is kept; candidates are the sources
    at or above the threshold, so the threshold can change afterwards.

    The threshold is compared in log-odds (``threshold_logit``): probabilities
    of confident stamps tie at 1.0, log-odds do not. ``threshold`` is the
    same threshold as a probability, for people; set both through
    ``inspection.scoring.services.set_threshold``."""

    class Sample(models.TextChoices):
        ALL = "all", "all LRGs"
        REFINED = "refined", "refined LRGs (FLAG_R = 0)"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="runs")
    network = models.ForeignKey("classifier.Network", on_delete=models.PROTECT, related_name="runs")
    sample = models.CharField(max_length=8, choices=Sample.choices, default=Sample.ALL)
    threshold = models.FloatField(help_text="the threshold as P(lens), as people see and enter it")
    threshold_logit = models.FloatField(
        help_text="candidates: logit >= threshold_logit (log-odds: exact where P ties at 1)"
    )
    threshold_origin = models.CharField(max_length=80, blank=True)
    network_state = models.JSONField(
        default=dict,
        blank=True,
        help_text="the network as the run scores with it: weights sha256, temperature, TTA "
        "(a committee: its members); a chunk refuses to score once the network differs",
    )
    chunk_size = models.PositiveIntegerField()
    n_sources = models.PositiveIntegerField(help_text="sources in the sample")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Run {self.pk}: {self.network.name} on {self.survey.name} ({self.sample})"

    @property
    def label(self):
        return f"R{self.pk}"

    def sources(self):
        return self.survey.sample(refined=self.sample == self.Sample.REFINED)

    def candidates(self):
        return self.scores.filter(logit__gte=self.threshold_logit)


class RunChunk(models.Model):
    """Sources of a run with ``start <= stamp_index < stop``; scored by one job
    at a time. ``job`` is the latest attempt."""

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    start = models.PositiveIntegerField(help_text="first stamp index")
    stop = models.PositiveIntegerField(help_text="one past the last stamp index")
    n_sources = models.PositiveIntegerField()
    attempts = models.PositiveIntegerField(default=0)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="chunk_unique")]

    def __str__(self):
        return f"{self.run.label} chunk {self.index}"

    @property
    def status(self):
        return self.job.status if self.job else "pending"


class Score(models.Model):
    """The network's verdict on one source in one run; one row per (run,
    source), always. ``logit`` is what ranks and thresholds compare: ``score``
    (P(lens) = sigmoid(logit), float64) ties at 1.0 for confident stamps."""

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="scores")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="scores")
    score = models.FloatField(help_text="P(lens), from logit")
    logit = models.FloatField(help_text="log-odds ln(P / (1 - P)), natural log")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "source"], name="score_once_per_source")
        ]
        indexes = [models.Index(fields=["run", "logit"])]

    def __str__(self):
        return f"{self.run.label} {self.source.name}: {self.score:.6g} (logit {self.logit:.4g})"


# --- Inspection: known items, skills, campaigns, grades (He et al. Sect. 4.1) --


class KnownSet(StampsOnDisk, models.Model):
    """Stamps whose truth is known: simulated by the project or uploaded real
    lenses and non-lenses. Inspectors train on them, and a few are mixed into
    live grading to keep their skills current."""

    name = models.SlugField(max_length=80, unique=True)
    stamps_path = models.CharField(
        max_length=500, help_text="stamp-set file; relative to the data dir"
    )
    bands = models.CharField(max_length=32)
    pixscale_arcsec = models.FloatField()
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class KnownItem(models.Model):
    """One stamp of a known set. Training shows the truth of an item, so an
    inspector would recognise it in a campaign: each item is either for
    training or for mixing into campaigns, never both
    (``grading.split_for_training``)."""

    known_set = models.ForeignKey(KnownSet, on_delete=models.CASCADE, related_name="items")
    stamp_index = models.PositiveIntegerField()
    is_lens = models.BooleanField()
    kind = models.CharField(max_length=32, blank=True, help_text="lens, pair, elongated, disk, ...")
    theta_e_arcsec = models.FloatField(null=True, blank=True)
    for_training = models.BooleanField(
        default=True, help_text="shown in training; the other items are mixed into campaigns"
    )

    class Meta:
        ordering = ["known_set", "stamp_index"]
        constraints = [
            models.UniqueConstraint(fields=["known_set", "stamp_index"], name="known_item_unique")
        ]

    def __str__(self):
        return (
            f"{self.known_set.name}[{self.stamp_index}] ({'lens' if self.is_lens else self.kind})"
        )


class Skill(models.Model):
    """An inspector's skill on known items (Space Warps, Marshall et al. 2016):
    P("lens"|lens) and P("not"|not) as smoothed fractions correct."""

    inspector = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skill"
    )
    lens_seen = models.PositiveIntegerField(default=0)
    lens_right = models.PositiveIntegerField(default=0, help_text="lenses graded 1 or 2")
    not_seen = models.PositiveIntegerField(default=0)
    not_right = models.PositiveIntegerField(default=0, help_text="non-lenses graded 0")
    passed_at = models.DateTimeField(null=True, blank=True, help_text="passed the training")
    # Of the counts above, those from training answers (every attempt); the
    # rest are hidden known items graded in campaigns. The consensus reads
    # the totals (``p_lens``, ``p_not``): these only report the two apart.
    train_lens_seen = models.PositiveIntegerField(default=0)
    train_lens_right = models.PositiveIntegerField(default=0)
    train_not_seen = models.PositiveIntegerField(default=0)
    train_not_right = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.inspector}: P(L|L) {self.p_lens:.2f}, P(N|N) {self.p_not:.2f}"

    @staticmethod
    def smoothed(right: int, seen: int) -> float:
        """A fraction correct, smoothed (Space Warps): (right + 1) / (seen + 2)."""
        return (right + 1) / (seen + 2)

    @property
    def p_lens(self):
        """P("lens"|lens) from every known item, training and hidden."""
        return self.smoothed(self.lens_right, self.lens_seen)

    @property
    def p_not(self):
        """P("not"|not) from every known item, training and hidden."""
        return self.smoothed(self.not_right, self.not_seen)

    @property
    def p_lens_training(self):
        return self.smoothed(self.train_lens_right, self.train_lens_seen)

    @property
    def p_not_training(self):
        return self.smoothed(self.train_not_right, self.train_not_seen)

    @property
    def hidden_lens_seen(self):
        return self.lens_seen - self.train_lens_seen

    @property
    def hidden_lens_right(self):
        return self.lens_right - self.train_lens_right

    @property
    def hidden_not_seen(self):
        return self.not_seen - self.train_not_seen

    @property
    def hidden_not_right(self):
        return self.not_right - self.train_not_right

    @property
    def p_lens_hidden(self):
        """P("lens"|lens) from the known items mixed into campaigns only."""
        return self.smoothed(self.hidden_lens_right, self.hidden_lens_seen)

    @property
    def p_not_hidden(self):
        """P("not"|not) from the known items mixed into campaigns only."""
        return self.smoothed(self.hidden_not_right, self.hidden_not_seen)

    @property
    def n_training(self):
        return self.train_lens_seen + self.train_not_seen

    @property
    def n_hidden(self):
        return self.hidden_lens_seen + self.hidden_not_seen


class TrainingAnswer(models.Model):
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_answers"
    )
    item = models.ForeignKey(KnownItem, on_delete=models.CASCADE, related_name="+")
    grade = models.PositiveSmallIntegerField()
    correct = models.BooleanField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inspector", "item"], name="one_training_answer")
        ]

    def __str__(self):
        return f"{self.inspector}: {self.item} graded {self.grade}"


class TrainingAttempt(models.Model):
    """One pass through the training: the items it shows, in their order
    (``grading.teaching.draw_attempt``), and how it ended. A retake starts
    the next attempt; the answers of the last one are then deleted (the
    skill counts keep them), so ``TrainingAnswer`` always holds the current
    attempt's answers."""

    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_attempts"
    )
    number = models.PositiveIntegerField(help_text="1 for the first attempt")
    items = models.JSONField(default=list, help_text="KnownItem ids, in the order shown")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    n_right = models.PositiveIntegerField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["inspector", "number"]
        constraints = [
            models.UniqueConstraint(fields=["inspector", "number"], name="one_attempt_number")
        ]

    def __str__(self):
        return f"{self.inspector}: training attempt {self.number}"


class TrainingPolicy(models.Model):
    """The training every inspector passes before live grading (one row)."""

    known_sets = models.ManyToManyField(KnownSet, blank=True, related_name="+",
                                        help_text="simulated and real known items")  # fmt: skip
    n_items = models.PositiveIntegerField(default=20)
    pass_mark = models.FloatField(default=0.8, help_text="fraction correct to pass, 0-1")

    def __str__(self):
        return f"training: {self.n_items} items, pass at {self.pass_mark:.0%}"

    @classmethod
    def current(cls):
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        OPEN = "open"
        CLOSED = "closed"

    #: What inspectors may see: a draft is the admins' alone.
    VISIBLE = (Status.OPEN, Status.CLOSED)

    name = models.CharField(max_length=120)
    run = models.ForeignKey(ScoringRun, on_delete=models.PROTECT, related_name="campaigns")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    known_fraction = models.FloatField(default=0.07, help_text="known items mixed in, 0-0.5")
    inspectors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="campaigns")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL,
        help_text="a further vote on the candidates of this campaign with a given total",
    )  # fmt: skip
    parent_total = models.PositiveSmallIntegerField(null=True, blank=True)
    high_total = models.PositiveSmallIntegerField(
        default=4, help_text="total score at or above which a candidate is high probability"
    )
    vote_total = models.PositiveSmallIntegerField(
        default=3, help_text="total score that goes to a further vote"
    )
    # Grade classes as surveys publish them (HSC SuGOHI, HOLISMOKES): the lower
    # bound of the mean grade (0-2) of classes A, B and C, A > B > C
    # (``inspection.catalogues.consensus.CLASS_DEFAULTS`` says why these).
    class_a_min = models.FloatField(
        default=CLASS_DEFAULTS["A"], help_text="mean grade (0-2) from which class A"
    )
    class_b_min = models.FloatField(
        default=CLASS_DEFAULTS["B"], help_text="mean grade (0-2) from which class B"
    )
    class_c_min = models.FloatField(
        default=CLASS_DEFAULTS["C"], help_text="mean grade (0-2) from which class C"
    )
    # Adaptive retirement and escalation (inspection.grading.adaptive).
    retire_after = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="retire an item once its first k grades are all 0 (empty: never)",
    )  # fmt: skip
    escalate_to = models.CharField(
        max_length=12, default="off",
        help_text="off, inspectors (extra assignments) or discussion (a flag)",
    )  # fmt: skip
    escalate_extra = models.PositiveSmallIntegerField(
        default=2, help_text="inspectors added to an escalated item"
    )
    escalate_band = models.FloatField(
        default=0.0,
        help_text="escalate when |posterior - 0.5| <= band (0: the posterior never escalates)",
    )
    # Injected lenses: the catalogue's own completeness (inspection.completeness).
    inject_lenses = models.PositiveIntegerField(
        default=0, help_text="lenses to simulate onto non-candidate LRGs of the run (0: none)"
    )
    injection_stamps = models.CharField(
        max_length=500, blank=True, help_text="stamp set of the injected lenses; data-dir relative"
    )
    injections_built_at = models.DateTimeField(
        null=True, blank=True, help_text="when the injected lenses were made, scored and mixed in"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name

    @property
    def injections_pending(self) -> bool:
        """Lenses are to be injected and are not mixed in yet (the campaign
        cannot open until they are)."""
        return bool(self.inject_lenses) and self.injections_built_at is None

    @property
    def class_bounds(self):
        """(A, B, C): the lowest mean grade of each class."""
        return (self.class_a_min, self.class_b_min, self.class_c_min)


class Injection(models.Model):
    """A lens simulated onto a survey LRG that is not a candidate of the
    campaign's run (it scored below the threshold), with the stamp's PSF and
    noise (``simulations.semireal``), and scored by the run's network. Those
    that pass the run's threshold are mixed into the campaign unannounced
    (``CampaignItem.injection``); every one counts in the completeness
    (``inspection.completeness``)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="injections")
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="+", help_text="the LRG the arc is on"
    )
    stamp_index = models.PositiveIntegerField(help_text="row in the campaign's injection stamps")
    theta_e_arcsec = models.FloatField(help_text="Einstein radius, arcsec")
    arc_snr = models.FloatField(
        help_text="S/N of the arc in the reference band (simulations.observe.arc_snr)"
    )
    mag_r = models.FloatField(null=True, blank=True, help_text="the LRG's catalogue r mag")
    score = models.FloatField(help_text="P(lens) from the run's network")
    logit = models.FloatField(help_text="the run's network's log-odds")
    passed = models.BooleanField(help_text="logit >= the run's threshold when it was made")

    class Meta:
        ordering = ["campaign", "stamp_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "stamp_index"], name="injection_stamp_unique"
            )
        ]

    def __str__(self):
        return f"{self.campaign}: injection {self.stamp_index} on {self.source_id}"


class CampaignItem(models.Model):
    """A candidate (a source of the run), a known item or an injected lens
    in a campaign: exactly one of the three."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.CASCADE)
    known = models.ForeignKey(KnownItem, null=True, blank=True, on_delete=models.CASCADE)
    injection = models.OneToOneField(
        Injection, null=True, blank=True, on_delete=models.CASCADE, related_name="item"
    )
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="retired: its first k grades were 0"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation = models.CharField(
        max_length=80, blank=True, help_text="why it was escalated, and to what"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source__isnull=False, known__isnull=True, injection__isnull=True)
                | models.Q(source__isnull=True, known__isnull=False, injection__isnull=True)
                | models.Q(source__isnull=True, known__isnull=True, injection__isnull=False),
                name="item_is_source_known_or_injection",
            )
        ]

    def __str__(self):
        return f"{self.campaign}: {self.source or self.known}"


class Assignment(models.Model):
    """One item for one inspector, at ``position`` in their own random order."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    item = models.ForeignKey(CampaignItem, on_delete=models.CASCADE, related_name="assignments")
    position = models.PositiveIntegerField()
    withdrawn_at = models.DateTimeField(
        null=True, blank=True,
        help_text="withdrawn ungraded when its item retired (a grade sent later still counts)",
    )  # fmt: skip
    extra = models.BooleanField(default=False, help_text="added when its item was escalated")

    class Meta:
        ordering = ["campaign", "inspector", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "inspector", "item"], name="assign_once"),
            models.UniqueConstraint(
                fields=["campaign", "inspector", "position"], name="assign_position"
            ),
        ]

    def __str__(self):
        return f"{self.inspector} #{self.position} in {self.campaign}"


class Grade(models.Model):
    """The current grade of an assignment; every change is kept in GradeChange."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="grade")
    grade = models.PositiveSmallIntegerField(help_text="0 non-lens, 1 possible, 2 definite")
    comment = models.TextField(blank=True)
    view = models.JSONField(default=dict, blank=True, help_text="stretch and zoom when graded")
    seconds = models.FloatField(
        null=True, blank=True,
        help_text="time on task, s: the stamp on screen, idle and hidden-tab time excluded, "
        "summed over every submission that set or changed the grade (None: not measured)",
    )  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.assignment}: {self.grade}"


class GradeChange(models.Model):
    grade = models.ForeignKey(Grade, on_delete=models.CASCADE, related_name="history")
    value = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    view = models.JSONField(default=dict, blank=True)
    seconds = models.FloatField(
        null=True, blank=True, help_text="this submission's time on task, s"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["grade", "at", "id"]

    def __str__(self):
        return f"{self.grade.assignment}: {self.value} at {self.at:%Y-%m-%d %H:%M:%S}"


# --- Prior lens lists (He et al. 2020 Sect. 4.3.1) ------------------------------


class PriorList(models.Model):
    """Lenses and candidates of earlier searches, uploaded or built in
    (lenscat), cross-matched with a search's LRGs and candidates."""

    name = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=200, blank=True)
    origin = models.CharField(max_length=500, blank=True, help_text="file it was read from")
    n_read = models.PositiveIntegerField(default=0, help_text="rows in the file")
    n_duplicates = models.PositiveIntegerField(
        default=0, help_text="rows within 1 arcsec of an earlier row, merged into it"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PriorLens(models.Model):
    prior_list = models.ForeignKey(PriorList, on_delete=models.CASCADE, related_name="lenses")
    name = models.CharField(max_length=80)
    ra_deg = models.FloatField()
    dec_deg = models.FloatField()
    grade = models.CharField(max_length=40, blank=True, help_text="the list's own grade")

    class Meta:
        ordering = ["prior_list", "id"]

    def __str__(self):
        return f"{self.prior_list.name}: {self.name}"


# --- Discussion after blind grading -------------------------------------------------


class Comment(models.Model):
    """A remark in a candidate's discussion thread (one thread per campaign
    item): seen by admins and by the item's inspectors once they have graded
    it (``inspection.discussion.services``)."""

    MAX_LENGTH = 2000

    item = models.ForeignKey(CampaignItem, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(max_length=MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["item", "created_at", "id"]

    def __str__(self):
        return f"{self.author} on {self.item}: {self.text[:40]}"


class Decision(models.Model):
    """An admin's final word on a candidate after the discussion, exported
    with the catalogue (``decision``, ``decision_reason``)."""

    class Verdict(models.TextChoices):
        LENS = "lens", "lens"
        NOT_LENS = "not-lens", "not a lens"
        UNSURE = "unsure", "unsure"

    item = models.OneToOneField(CampaignItem, on_delete=models.CASCADE, related_name="decision")
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    reason = models.TextField(max_length=Comment.MAX_LENGTH)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.item}: {self.verdict}"
