"""He et al. 2020 Table 3 as an experiment: the s-Net and its adaptation to a
survey (the r-Net) score the survey's LRGs; their candidates are compared
with each other and with a graded campaign's high-probability list."""
# ruff: noqa: F811  (the adaptation tests' fixtures, imported, are arguments here)

import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rq.worker import SimpleWorker

from classifier.models import Experiment, Network
from core.models import Job
from tests.inspection.test_adapt import survey, survey_stamps  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def graded_campaign(survey):
    """A run of the s-Net over the survey (every LRG a candidate) and a
    campaign whose first eight candidates two inspectors call lenses."""
    from inspection.grading import services as grading
    from inspection.models import Assignment
    from inspection.scoring import services as runs

    run = runs.launch_run(survey, Network.objects.get(name="kids-r-cnn"), threshold=0.0,
                          enqueue=False)  # fmt: skip
    runs.run_in_process(run)
    two = [grading.create_inspector(f"g{k}", password="pw-123456789")[0] for k in range(2)]
    campaign = grading.create_campaign(run, "round 1", two, known_fraction=0)
    grading.set_status(campaign, "open")
    items = list(campaign.items.order_by("source__stamp_index"))
    for k, item in enumerate(items):
        for user in two:
            grading.record_grade(Assignment.objects.get(item=item, inspector=user), 2 * (k < 8))
    return campaign, [item.source_id for item in items[:8]]


@pytest.mark.django_db(transaction=True)
def test_the_s_net_and_its_r_net_are_compared_on_the_survey(
    admin_client,
    survey,
    redis_url,
):
    campaign, high = graded_campaign(survey)
    call_command("experiment", "snet-rnet", "--survey", "big", "--network", "kids-r-cnn",
                 "--lenses", "30", "--epochs", "1", "--top", "20", "--seed", "2", "--queue",
                 verbosity=0)  # fmt: skip
    experiment = Experiment.objects.get()
    assert experiment.status == "queued"
    q = django_rq.get_queue("scoring")
    SimpleWorker([q], connection=q.connection).work(burst=True)
    experiment.refresh_from_db()
    assert experiment.status == "succeeded", experiment.job.error
    results = experiment.results
    assert results["n_lrgs"] == 240 and results["s_net"] == "kids-r-cnn"
    r_net = Network.objects.get(name=results["r_net"])
    assert r_net.training["experiment"] == experiment.pk
    assert r_net.training["adaptation"]["survey"] == "big"
    at_threshold = results["overlaps"]["at each network's 1%-FPR threshold"]
    assert at_threshold["n_a"] == results["n_candidates"]["s-Net"]
    assert at_threshold["both"] + at_threshold["only_a"] == at_threshold["n_a"]
    assert at_threshold["both"] + at_threshold["only_b"] == at_threshold["n_b"]
    common = results["overlaps"]["top 20 of each"]
    assert common["n_a"] == common["n_b"] == 20
    # The s-Net's scores here are the run's: its top 20 are the run's top 20.
    run_top = list(
        campaign.run.scores.order_by("-logit", "source_id").values_list("source_id", flat=True)[:20]
    )
    assert sorted(run_top) == sorted(common["ids_both"] + common["ids_only_a"])
    [record] = results["campaigns"]
    assert record["campaign"] == "round 1" and record["n_high"] == len(high) == 8
    in_top = len(set(high) & set(common["ids_both"] + common["ids_only_a"]))
    assert record["s-Net top 20"] == in_top
    assert 0 <= record["r-Net candidates"] <= 8
    names = [n["name"] for n in experiment.provenance["networks"]]
    assert names == ["kids-r-cnn", r_net.name]
    page = admin_client.get(reverse("classifier:experiment", args=[experiment.pk])).content.decode()
    assert "top 20 of each" in page and "round 1" in page


def test_the_survey_page_launches_it_and_refuses_what_cannot_be_compared(
    admin_client,
    survey,
):
    url = reverse("inspection:snet_rnet_launch", args=["big"])
    response = admin_client.post(url, {"snet-network": "nowhere", "snet-lenses": "30"})
    assert response.status_code == 400 and "no network named" in response.content.decode()
    with pytest.raises(CommandError, match="no survey named"):
        call_command("experiment", "snet-rnet", "--survey", "small", "--network", "kids-r-cnn",
                     verbosity=0)  # fmt: skip
    assert Experiment.objects.count() == 0 and Job.objects.count() == 0
    response = admin_client.post(url, {"snet-network": "kids-r-cnn", "snet-lenses": "30",
                                       "snet-epochs": "1", "snet-seed": "3"})  # fmt: skip
    experiment = Experiment.objects.get()
    assert response["Location"] == reverse("classifier:experiment", args=[experiment.pk])
    assert experiment.job.function == "inspection.jobs.run_snet_rnet"
    assert experiment.parameters["survey"] == "big" and experiment.seed == 3


def test_a_survey_too_small_to_adapt_is_refused_before_anything_is_queued(survey):
    from inspection.models import Source

    Source.objects.filter(stamp_index__gte=100).delete()
    with pytest.raises(CommandError, match="adapting needs at least 200"):
        call_command("experiment", "snet-rnet", "--survey", "big", "--network", "kids-r-cnn",
                     verbosity=0)  # fmt: skip
    assert Experiment.objects.count() == 0 and Job.objects.count() == 0
