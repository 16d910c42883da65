"""End-to-end speed of the search's first half, each figure next to a
reference measured in the same run (these machines are noisy).

1. Stamps cut per second from a tile (one WCS transform, numpy slicing),
   against astropy's ``Cutout2D`` per source.
2. A scoring run over N sources (default 20,000): stamps on disk -> scores in
   the database, through the job function the workers run (``score_chunk``,
   here in-process), against the bare scoring path (preprocess + network) on
   the same stamps already in memory. Target: >= 70% of it.
3. Ingest of a 1,000,000-row catalogue: time and peak memory (RSS sampled).

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \\
    MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1,thp:always,metadata_thp:auto \\
    .venv/bin/python bench/scoring.py [--sources 20000] [--rows 1000000] [--network kids-r-cnn]
"""

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(tmp):
    os.environ["LENSFINDER_DATA_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lensfinder.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class PeakRSS:
    """Peak resident memory of this process while the block runs (sampled)."""

    def __enter__(self):
        import psutil

        self._proc = psutil.Process()
        self.start = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def make_tile(path, size_px, n, rng, pixscale=0.2):
    """A noise tile with ``n`` Gaussian blobs and a TAN WCS; returns (ra, dec)."""
    from astropy.io import fits
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [(size_px + 1) / 2, (size_px + 1) / 2]
    wcs.wcs.cdelt = [-pixscale / 3600, pixscale / 3600]
    image = rng.normal(0, 30, (size_px, size_px)).astype(np.float32)
    x = rng.uniform(60, size_px - 60, n)
    y = rng.uniform(60, size_px - 60, n)
    yy, xx = np.mgrid[-6:7, -6:7]
    blob = (3000 * np.exp(-(xx**2 + yy**2) / 8)).astype(np.float32)
    for cx, cy in zip(np.round(x).astype(int), np.round(y).astype(int), strict=True):
        image[cy - 6 : cy + 7, cx - 6 : cx + 7] += blob
    fits.PrimaryHDU(image, header=wcs.to_header()).writeto(path, overwrite=True)
    ra, dec = wcs.pixel_to_world_values(x, y)
    return np.asarray(ra), np.asarray(dec)


def bench_cutting(tmp, n, rng):
    from astropy.nddata import Cutout2D

    from inspection.ingest import cutouts

    path = tmp / "tile_r.fits"
    ra, dec = make_tile(path, 10000, n, rng)
    tile = cutouts.open_tile(path)
    data = np.asarray(tile.data)  # read once: both routes cut from memory
    t0 = time.perf_counter()
    x, y = cutouts.pixel_positions(tile, ra, dec)
    stamps, flags = cutouts.cut_stamps(data, x, y, 97)
    ours = n / (time.perf_counter() - t0)
    k = min(n, 1000)
    from astropy.coordinates import SkyCoord

    t0 = time.perf_counter()
    for i in range(k):
        Cutout2D(data, SkyCoord(ra[i], dec[i], unit="deg"), 97, wcs=tile.wcs, mode="partial")
    ref = k / (time.perf_counter() - t0)
    print(
        f"cutting 97x97 stamps from a 10k x 10k tile: {ours:,.0f} stamps/s vectorised, "
        f"{ref:,.0f}/s Cutout2D per source (reference) -> {ours / ref:.1f}x"
    )
    return stamps, ra, dec


def write_stampset(path, stamps, ra, dec):
    from simulations.stampset import StampSetWriter

    n = len(stamps)
    with StampSetWriter(path, n, ["r"], stamps.shape[-2:], 0.2, survey="bench") as w:
        for s in range(0, n, 4096):
            sl = slice(s, min(s + 4096, n))
            w.write(
                stamps[sl, None],
                {
                    "id": [f"s{i}" for i in range(sl.start, sl.stop)],
                    "label": np.full(sl.stop - sl.start, -1),
                    "ra": ra[sl],
                    "dec": dec[sl],
                },
            )


def bench_run(tmp, stamps, ra, dec, network_name):
    from classifier.models import Network
    from classifier.services import load_scorer
    from inspection.ingest.services import ingest_survey
    from inspection.scoring import services as runs

    path = tmp / "survey-stamps.fits"
    write_stampset(path, stamps, ra, dec)
    survey = ingest_survey("bench", stamps=path)
    network = Network.objects.get(name=network_name)
    scorer = load_scorer(network)
    cube = stamps[:, None].astype(np.float32)
    scorer.score(cube[:2048], 0.2)  # warm-up (threads, allocator, any compilation)
    t0 = time.perf_counter()
    for s in range(0, len(cube), 1024):
        scorer.score(cube[s : s + 1024], 0.2)
    bare = len(cube) / (time.perf_counter() - t0)
    # The bench survey is cut at 0.2"/px (real KiDS coadds): a fit warning, accepted.
    run = runs.launch_run(survey, network, threshold=0.5, enqueue=False, accept_warnings=True)
    t0 = time.perf_counter()
    runs.run_in_process(run)
    seconds = time.perf_counter() - t0
    e2e = run.scores.count() / seconds
    print(
        f"scoring run, {network_name}, {run.n_sources:,d} sources in {run.chunks.count()} "
        f"chunks: {e2e:,.0f} stamps/s end to end (disk -> database) vs {bare:,.0f}/s bare "
        f"scoring path in memory -> {e2e / bare:.0%} (target >= 70%)"
    )


def bench_ingest(tmp, rows, rng):
    from astropy.table import Table

    from inspection.ingest.services import ingest_survey

    cat = Table()
    cat["ID"] = np.char.add("S", np.arange(rows).astype(str))
    cat["RAJ2000"] = rng.uniform(149.9, 150.1, rows)
    cat["DECJ2000"] = rng.uniform(1.9, 2.1, rows)
    r = rng.uniform(15, 24, rows).astype(np.float32)
    gr = rng.normal(1.0, 0.5, rows).astype(np.float32)
    ri = rng.normal(0.4, 0.2, rows).astype(np.float32)
    for band, mag in (("u", r + gr + 1.5), ("g", r + gr), ("r", r), ("i", r - ri)):
        cat[f"MAG_GAAP_{band}"] = mag
    cat["MAG_AUTO"] = r
    cat["CLASS_STAR"] = rng.uniform(0, 1, rows).astype(np.float32)
    cat["FLUX_RADIUS"] = rng.uniform(1, 40, rows).astype(np.float32)
    cat["FLAG_R"] = rng.choice([0, 0, 0, 4], rows).astype(np.int16)
    path = tmp / "million.fits"
    cat.write(path, overwrite=True)
    table_mb = sum(cat[c].nbytes for c in cat.colnames) / 2**20
    del cat
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        survey = ingest_survey("million", catalogue=path, tiles=[("r", tmp / "tile_r.fits")])
        seconds = time.perf_counter() - t0
    print(
        f"ingest of {rows:,d} catalogue rows ({table_mb:.0f} MiB of columns): {seconds:.1f} s "
        f"({rows / seconds:,.0f} rows/s), {survey.sources.count():,d} LRGs; peak RSS "
        f"+{(mem.peak - mem.start) / 2**20:.0f} MiB over the {mem.start / 2**20:.0f} MiB "
        "before it (reference: the table's size)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=20000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--network", default="kids-r-cnn")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="lf-bench-") as tmp:
        tmp = Path(tmp)
        setup_django(tmp)
        stamps, ra, dec = bench_cutting(tmp, args.sources, rng)
        bench_run(tmp, stamps, ra, dec, args.network)
        del stamps
        bench_ingest(tmp, args.rows, rng)


if __name__ == "__main__":
    main()
