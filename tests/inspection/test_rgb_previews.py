"""Pages that show stamps put an RGB preview only where the stamps have g, r
and i: for an r-only survey or known set the rgb preview answers 404
(``inspection.grading.services.kinds_of``), so no page may ask for it."""

import pytest
from django.urls import reverse

from classifier.models import Network
from inspection.models import (
    Campaign,
    CampaignItem,
    KnownItem,
    KnownSet,
    ScoringRun,
    Source,
    Survey,
    TrainingPolicy,
)

pytestmark = pytest.mark.django_db


def campaign_on(bands):
    survey = Survey.objects.create(name=f"s-{bands.replace(',', '')}", bands=bands,
                                   pixscale_arcsec=0.2, stamp_size=101,
                                   stamps_path="stamps.fits")  # fmt: skip
    network = Network.objects.get_or_create(
        name="cnn", defaults={"architecture": "he2020-cnn", "bands": "r", "pixscale_arcsec": 0.2,
                              "stamp_size": 101, "preprocessing": {}, "weights_path": "cnn.pt",
                              "weights_sha256": "0" * 64},
    )[0]  # fmt: skip
    run = ScoringRun.objects.create(survey=survey, network=network, threshold=0.5,
                                    threshold_logit=0.0, chunk_size=10, n_sources=1)  # fmt: skip
    source = Source.objects.create(survey=survey, name="KIDS J000000+000000", catalogue_id="1",
                                   ra_deg=0.0, dec_deg=0.0, stamp_index=3)  # fmt: skip
    known_set = KnownSet.objects.create(name=f"k-{bands.replace(',', '')}", bands=bands,
                                        stamps_path="known.fits", pixscale_arcsec=0.2)  # fmt: skip
    known = KnownItem.objects.create(known_set=known_set, stamp_index=5, is_lens=True,
                                     for_training=False)  # fmt: skip
    campaign = Campaign.objects.create(name="round 1", run=run)
    return (
        campaign,
        CampaignItem.objects.create(campaign=campaign, source=source),
        CampaignItem.objects.create(campaign=campaign, known=known),
    )


def rgb_url(name, *args):
    return reverse(name, args=[*args, "rgb"])


@pytest.mark.parametrize("bands, shown", [("r", False), ("g,r,i", True)])
def test_a_campaign_item_shows_rgb_only_where_the_stamps_have_g_r_i(admin_client, bands, shown):
    campaign, candidate, known = campaign_on(bands)
    page = admin_client.get(
        reverse("inspection:campaign_item", args=[campaign.pk, candidate.pk])
    ).content.decode()
    survey = candidate.source.survey
    assert reverse("inspection:preview", args=[survey.name, 3, "r"]) in page
    assert (rgb_url("inspection:preview", survey.name, 3) in page) is shown

    page = admin_client.get(
        reverse("inspection:campaign_item", args=[campaign.pk, known.pk])
    ).content.decode()
    known_set = known.known.known_set
    assert reverse("inspection:known_preview", args=[known_set.name, 5, "r"]) in page
    assert (rgb_url("inspection:known_preview", known_set.name, 5) in page) is shown


@pytest.mark.parametrize("bands, shown", [("r", False), ("g,r,i", True)])
def test_training_shows_rgb_only_where_the_known_set_has_g_r_i(inspector_client, bands, shown):
    known_set = KnownSet.objects.create(name="known", bands=bands, stamps_path="known.fits",
                                        pixscale_arcsec=0.2)  # fmt: skip
    for i, is_lens in enumerate([True, False]):
        KnownItem.objects.create(known_set=known_set, stamp_index=i, is_lens=is_lens)
    policy = TrainingPolicy.current()
    policy.n_items = 2
    policy.save()
    policy.known_sets.add(known_set)
    page = inspector_client.get(reverse("inspection:training")).content.decode()
    assert 'id="training-form"' in page
    pks = KnownItem.objects.values_list("pk", flat=True)
    assert any(reverse("inspection:training_stamp", args=[pk, "r"]) in page for pk in pks)
    has_rgb = any(rgb_url("inspection:training_stamp", pk) in page for pk in pks)
    assert has_rgb is shown
