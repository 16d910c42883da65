"""Injected lenses (issue 18, the catalogue's own completeness): made from
LRGs the run did not select with the stamp's PSF, scored by the run's
network, mixed in unannounced where they pass, kept out of the candidate
catalogue, and measured against their truth on the catalogue page and its
exports."""

import csv
import io

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from inspection.catalogues import services as catalogues
from inspection.completeness import services as injections
from inspection.grading import services as grading
from inspection.models import Assignment, CampaignItem, Injection
from inspection.scoring import services as runs
from simulations.stampset import read_stampset
from tests.inspection.test_grading import pass_training, post_grade

pytestmark = pytest.mark.django_db(transaction=True)

N_INJECT = 24


def trained(n, prefix="inj"):
    users = [grading.create_inspector(f"{prefix}{k}", password="pw-123456789")[0] for k in range(n)]
    for user in users:
        pass_training(user)
    return users


@pytest.fixture
def injected(graded_search):
    """(campaign, inspectors): a draft campaign on a run whose threshold
    leaves half the LRGs unselected, with its lenses injected."""
    run, _ = graded_search
    logits = np.sort(np.array(run.scores.values_list("logit", flat=True)))
    runs.set_threshold(run, threshold_logit=float(np.median(logits)))
    users = trained(2)
    campaign = grading.create_campaign(run, "round 1", users, known_fraction=0,
                                       inject_lenses=N_INJECT)  # fmt: skip
    injections.build_injections(campaign)
    campaign.refresh_from_db()
    return campaign, users


def test_debug(injected):
    campaign, users = injected
    for i in campaign.injections.all():
        print(i.theta_e_arcsec, i.arc_snr, i.mag_r, i.logit, i.passed)
    print(campaign.run.threshold_logit)
    assert 0
