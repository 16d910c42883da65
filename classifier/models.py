from django.conf import settings
from django.db import models
from django.utils import timezone

from core.logodds import logit


class Network(models.Model):
    """A trained network in the registry: what it expects, where its weights
    are, how it was trained and how well it did."""

    COMMITTEE = "committee"
    ARCHITECTURES = [
        ("he2020-cnn", "He et al. 2020 CNN"),
        ("deeplens-resnet", "CMU DeepLens ResNet"),
        # Several registered networks scored as one (mean of their calibrated
        # log-odds): no weights of its own, its members in ``training["members"]``.
        (COMMITTEE, "Committee of networks"),
    ]

    name = models.SlugField(max_length=80, unique=True)
    architecture = models.CharField(max_length=32, choices=ARCHITECTURES)
    bands = models.CharField(max_length=32, help_text="comma-separated, in input order")
    pixscale_arcsec = models.FloatField(help_text="pixel scale of the network input, arcsec")
    stamp_size = models.PositiveIntegerField(help_text="input stamp size, pixels")
    preprocessing = models.JSONField(help_text="Preprocessor constants")
    weights_path = models.CharField(max_length=500, help_text="relative to the data dir")
    weights_sha256 = models.CharField(max_length=64)
    training = models.JSONField(default=dict, blank=True, help_text="provenance and history")
    evaluation = models.JSONField(default=dict, blank=True)
    evaluation_cross_simulator = models.JSONField(
        default=dict,
        blank=True,
        help_text="on a set from an independent renderer (crosscheck/, lenstronomy): how far "
        "the network generalises beyond the simulator it learned from",
    )
    threshold_fpr_1pct = models.FloatField(
        null=True, blank=True, help_text="score threshold at 1% FPR on the evaluation set"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def band_list(self):
        return self.bands.split(",")

    @property
    def threshold_logit_fpr_1pct(self):
        """The 1% FPR threshold in log-odds, as evaluated
        (``evaluation["threshold_logit_at_fpr"]["0.01"]``, exact where
        probabilities tie at 1); for a network evaluated before log-odds were
        recorded, the log-odds of ``threshold_fpr_1pct``; None if neither."""
        recorded = ((self.evaluation or {}).get("threshold_logit_at_fpr") or {}).get("0.01")
        if recorded is not None:
            return float(recorded)
        # A probability threshold can sit just above 1 (the float after a 1.0): logit clips it.
        return None if self.threshold_fpr_1pct is None else logit(self.threshold_fpr_1pct)

    @property
    def train_prior(self):
        """Lens fraction of the training set (for Lanusse et al. eq. 5)."""
        return self.training.get("train_prior")

    @property
    def is_committee(self):
        return self.architecture == self.COMMITTEE

    @property
    def calibration(self):
        """The temperature fitted on a validation set with its NLL and ECE
        before and after (``classifier.calibration.summary`` plus the file),
        or None: ``training["calibration"]`` is the one record of it."""
        return self.training.get("calibration")

    @property
    def temperature(self):
        """What the scorer divides this network's log-odds by: the fitted
        temperature, or 1 (the scores as trained) where none was fitted."""
        return ((self.calibration or {}).get("temperature")) or 1.0

    @property
    def tta(self):
        """Whether this network scores with test-time augmentation (the mean
        log-odds of the 8 rotations and flips of each stamp), as its
        temperature and thresholds were measured: ``training["tta"]``, set by
        ``export_network --tta``, travels in shipped manifests."""
        return bool(self.training.get("tta"))

    def member_record(self) -> dict:
        """What a committee pins of each member when it is made
        (``services.make_committee``): its scores change with either; a member
        whose record no longer matches makes the committee refuse to score."""
        return {
            "name": self.name,
            "architecture": self.architecture,
            "weights_sha256": self.weights_sha256,
            "temperature": self.temperature,
        }


class Experiment(models.Model):
    """One run of a classifier experiment (``classifier.experiments``): what
    was asked, what it found, and every set and network it used. Its state
    is its job's (``job.status``); its products (sets, weights) live in
    ``<data dir>/experiments/<pk>/``, and the networks of a training-volume
    experiment in the registry, marked ``training["experiment"]``."""

    KINDS = [
        ("psf", "PSF robustness"),
        ("volume", "Training volume"),
        ("complexity", "Network complexity and simulation realism"),
        ("snet-rnet", "Simulated vs semi-real training"),
    ]

    kind = models.CharField(max_length=16, choices=KINDS)
    parameters = models.JSONField(default=dict, help_text="as asked, checked")
    seed = models.IntegerField(default=1, help_text="every set and training draws from it")
    job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    results = models.JSONField(default=dict, blank=True)
    provenance = models.JSONField(
        default=dict, blank=True, help_text="sets (file, sha256, seed) and networks (sha256)"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-pk"]

    def __str__(self):
        return f"Experiment {self.pk}: {self.get_kind_display()}"

    @property
    def status(self) -> str:
        """Its job's status ("queued" before the job row exists)."""
        return self.job.status if self.job is not None else "queued"
