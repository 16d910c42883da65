from django.conf import settings
from django.db import models
from django.utils import timezone


class Network(models.Model):
    """A trained network in the registry: what it expects, where its weights
    are, how it was trained and how well it did."""

    ARCHITECTURES = [
        ("he2020-cnn", "He et al. 2020 CNN"),
        ("deeplens-resnet", "CMU DeepLens ResNet"),
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
    def train_prior(self):
        """Lens fraction of the training set (for Lanusse et al. eq. 5)."""
        return self.training.get("train_prior")
