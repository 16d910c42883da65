"""A committee's network page lists its members: each linked to its own
page, with its bands, test-time augmentation and temperature."""

import pytest
from django.urls import reverse

from classifier.models import Network

pytestmark = pytest.mark.django_db


def network(name, **fields):
    values = {"architecture": "he2020-cnn", "bands": "g,r,i", "pixscale_arcsec": 0.2,
              "stamp_size": 101, "preprocessing": {}, "weights_path": f"{name}.pt",
              "weights_sha256": name * 8, "training": {}, **fields}  # fmt: skip
    return Network.objects.create(name=name, **values)


@pytest.fixture
def committee():
    alpha = network("alpha", training={"calibration": {"temperature": 1.75}, "tta": True})
    beta = network("beta", architecture="deeplens-resnet")
    members = [alpha.member_record(), beta.member_record()]
    return network("duo", architecture=Network.COMMITTEE, weights_path="",
                   training={"members": members})  # fmt: skip


def members_section(page):
    start = page.index('id="members"')
    return page[start : page.index("</section>", start)]


def test_a_committee_page_lists_its_members(admin_client, committee):
    page = admin_client.get(reverse("classifier:network", args=["duo"])).content.decode()
    section = members_section(page)
    for name in ("alpha", "beta"):
        assert f'href="{reverse("classifier:network", args=[name])}"' in section
    rows = section.split("<tr>")[2:]
    assert "alpha" in rows[0] and "g,r,i" in rows[0] and "yes" in rows[0] and "1.750" in rows[0]
    assert "beta" in rows[1] and "CMU DeepLens ResNet" in rows[1] and ">no<" in rows[1]
    assert "1.000" in rows[1] and "changed since" not in section


def test_a_member_that_changed_or_went_is_flagged(admin_client, committee):
    alpha = Network.objects.get(name="alpha")
    alpha.training = {**alpha.training, "calibration": {"temperature": 3.0}}
    alpha.save()
    Network.objects.filter(name="beta").delete()
    section = members_section(
        admin_client.get(reverse("classifier:network", args=["duo"])).content.decode()
    )
    rows = section.split("<tr>")[2:]
    assert "1.750" in rows[0] and "changed since" in rows[0]
    assert "no longer registered" in rows[1] and "href" not in rows[1]


def test_a_plain_network_has_no_members_section(admin_client, committee):
    page = admin_client.get(reverse("classifier:network", args=["alpha"])).content.decode()
    assert 'id="members"' not in page
