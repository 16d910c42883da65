"""A 1,000,000-row catalogue ingests with bounded memory, and the demo set-up
ingests and scores its field."""

import tracemalloc
from io import StringIO

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from django.core.management import call_command

from inspection.ingest.services import ingest_survey
from inspection.models import Survey

ROWS = 1_000_000


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    """A KiDS-like catalogue of 1e6 rows of which 300 are LRGs, and an r tile."""
    folder = tmp_path_factory.mktemp("million")
    rng = np.random.default_rng(4)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [200.5, 200.5]
    wcs.wcs.cdelt = [-0.2 / 3600, 0.2 / 3600]
    image = rng.normal(0, 10, (400, 400)).astype(np.float32)
    fits.PrimaryHDU(image, header=wcs.to_header()).writeto(folder / "r.fits")
    lrg = np.zeros(ROWS, bool)
    lrg[rng.choice(ROWS, 300, replace=False)] = True
    r = np.where(lrg, 17.5, 22.0).astype(np.float32)
    cat = Table()
    cat["ID"] = np.char.add("S", np.arange(ROWS).astype("U7"))
    cat["RAJ2000"] = rng.uniform(149.98, 150.02, ROWS)
    cat["DECJ2000"] = rng.uniform(1.98, 2.02, ROWS)
    for band, colour in (("u", 3.0), ("g", 1.4), ("r", 0.0), ("i", -0.5)):
        cat[f"MAG_GAAP_{band}"] = r + np.float32(colour)
    cat["MAG_AUTO"] = r
    cat["CLASS_STAR"] = np.full(ROWS, 0.02, np.float32)
    cat["FLUX_RADIUS"] = np.full(ROWS, 8.0, np.float32)
    cat["FLAG_R"] = np.zeros(ROWS, np.int16)
    cat.write(folder / "catalogue.fits")
    table_bytes = sum(np.asarray(cat[c]).nbytes for c in cat.colnames)
    return folder, table_bytes, int(lrg.sum())


@pytest.mark.django_db
def test_a_million_row_catalogue_ingests_with_bounded_memory(million, settings, tmp_path):
    folder, table_bytes, n_lrgs = million
    settings.DATA_DIR = tmp_path
    tracemalloc.start()
    try:
        survey = ingest_survey("million", catalogue=folder / "catalogue.fits",
                               tiles=[("r", folder / "r.fits")])  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert survey.n_catalogue == ROWS and dict(survey.funnel)["sources in"] == ROWS
    assert survey.sources.count() == n_lrgs
    # Chunks of 100,000 rows: the peak is a fraction of the whole table
    # (which, read at once, would take its size again in float64 copies).
    print(f"peak {peak / 2**20:.0f} MiB for a {table_bytes / 2**20:.0f} MiB table")
    assert peak < table_bytes / 2, (peak / 2**20, table_bytes / 2**20)


@pytest.mark.django_db(transaction=True)
def test_the_demo_set_up_ingests_and_scores_its_field(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    out = StringIO()
    call_command("setup_demo", stdout=out)
    survey = Survey.objects.get(name="demo-kids")
    run = survey.runs.get()
    assert run.network.name == "kids-gri-cnn"  # the field has g, r and i tiles
    assert run.scores.count() == run.n_sources == survey.sample().count() > 0
    assert f"{run.candidates().count()} candidates" in out.getvalue()
    campaign = run.campaigns.get()
    assert campaign.status == "open" and campaign.inspectors.count() == 2
    known = campaign.items.filter(known__isnull=False)
    assert known.exists() and all(i.known.known_set.name == "demo-known" for i in known)
    again = StringIO()
    call_command("setup_demo", stdout=again)  # idempotent: nothing is ingested or scored twice
    assert Survey.objects.count() == 1 and survey.runs.count() == 1 and run.campaigns.count() == 1
    assert "(kept)" in again.getvalue()
