"""The state of a search: surveys, their tiles and LRGs, scoring runs and scores.

Pixels never live in the database: a survey's stamps are one stamp-set file
(STAMPSET.md) and each ``Source`` points at its row there (``stamp_index``).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import Job

# Stamp flags (the same bits as inspection.cutouts.EDGE / OUTSIDE).
FLAG_EDGE = 1
FLAG_OUTSIDE = 2


class Survey(models.Model):
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
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-created_at", "name"]

    def __str__(self):
        return self.name

    @property
    def band_list(self):
        return self.bands.split(",")

    def stamps_file(self):
        from pathlib import Path

        path = Path(self.stamps_path)
        return path if path.is_absolute() else Path(settings.DATA_DIR) / path

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
    at or above ``threshold``, so the threshold can change afterwards."""

    class Sample(models.TextChoices):
        ALL = "all", "all LRGs"
        REFINED = "refined", "refined LRGs (FLAG_R = 0)"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="runs")
    network = models.ForeignKey("classifier.Network", on_delete=models.PROTECT, related_name="runs")
    sample = models.CharField(max_length=8, choices=Sample.choices, default=Sample.ALL)
    threshold = models.FloatField(help_text="candidates: score >= threshold")
    threshold_origin = models.CharField(max_length=80, blank=True)
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
        return self.scores.filter(score__gte=self.threshold)


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
    """P(lens) of one source in one run; one row per (run, source), always."""

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="scores")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="scores")
    score = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "source"], name="score_once_per_source")
        ]
        indexes = [models.Index(fields=["run", "score"])]

    def __str__(self):
        return f"{self.run.label} {self.source.name}: {self.score:.6g}"
