"""Ingesting a survey: catalogue -> LRG selection -> stamps -> database rows.

One code path for ``manage.py ingest_survey``, the web form's background job
and the demo. The catalogue streams through the cuts chunk by chunk, so only
the selected LRGs are ever held in memory; the stamps stream into a stamp-set
file written under a temporary name; the rows are created in one
transaction. A failure anywhere leaves neither rows nor files behind.

The survey's name is reserved before any work (``core.claims``): a second
ingest of the name is refused at once while the first lives, and an ingest
removes only the folder it made itself. A killed ingest leaves its claim and
a half-written folder marked with its claim's token; the next ingest of the
name finds the writer dead, takes the name over and clears them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db import transaction

from core import claims
from core.files import sha256_of
from core.forms import NAME_RE
from core.sky import iau_name
from inspection.ingest import cutouts
from inspection.ingest import lrg_cuts as cuts
from inspection.ingest import sources as cat
from inspection.ingest.band_names import IngestError, check_band
from inspection.models import FLAG_OUTSIDE, Source, Survey, Tile
from simulations.stampset import StampSetError, StampSetWriter, read_stampset

if TYPE_CHECKING:
    from django.contrib.auth.models import User


DEFAULT_STAMP_PX = 97  # He et al. 2020: 97x97 r-band stamps
STAMP_CHUNK = 512  # sources cut and written per step
BAND_ORDER = "ugrizyJHK"  # cube order: by wavelength, whatever order the tiles came in
WRITER_MARK = ".ingest-claim"  # in a survey folder being written: the writer's claim token


def surveys_dir() -> Path:
    return Path(settings.DATA_DIR) / "surveys"


def _band_key(band):
    return (BAND_ORDER.index(band) if band in BAND_ORDER else len(BAND_ORDER), band)


def _check_name(name):
    if not NAME_RE.match(name or ""):
        raise IngestError(
            f"Survey name {name!r}: use letters, digits, '-' and '_' (e.g. kids-dr3)."
        )
    if Survey.objects.filter(name=name).exists():
        raise IngestError(f"A survey named {name!r} exists already: choose another name.")


def _open_tiles(tile_args):
    tiles = []
    for band, path in tile_args:
        path = Path(path)
        check_band(band, f"{band}={path}")
        if not path.is_file():
            raise IngestError(f"Tile {band}={path}: no such file.")
        try:
            tile = cutouts.open_tile(path, max_pixels=settings.MAX_TILE_PIXELS)
        except cutouts.TileError as exc:
            raise IngestError(f"Tile {band}={path}: {exc}") from exc
        tiles.append((band, tile))
    bands = sorted({b for b, _ in tiles}, key=_band_key)
    scales = [t.pixscale_arcsec for _, t in tiles]
    if max(scales) > 1.01 * min(scales):
        listing = ", ".join(f"{b}={t.path.name}: {t.pixscale_arcsec:.4f}" for b, t in tiles)
        raise IngestError(
            f"The tiles have different pixel scales ({listing} arcsec/px); one survey's "
            "stamps share one scale: resample the tiles or ingest them as separate surveys."
        )
    return tiles, bands, float(np.median(scales))


def select_from_catalogue(
    path: str | Path,
    columns: dict[str, str] | None = None,
    lrg_cuts: cuts.LRGCuts | None = None,
    progress: Callable | None = None,
) -> tuple[dict[str, np.ndarray], list[tuple[str, int]], int]:
    """Stream the catalogue through the cuts; returns (LRG columns, funnel,
    rows read). Raises ``IngestError`` with the funnel when no source passes."""
    path = Path(path)
    lrg_cuts = lrg_cuts or cuts.LRGCuts()
    kept, funnels, n_rows = [], [], 0
    try:
        for chunk in cat.read_catalogue(path, mapping=columns):
            selection = cuts.select(chunk, lrg_cuts)
            funnels.append(selection.funnel)
            n = len(selection.is_lrg)
            n_rows += n
            if selection.is_lrg.any():
                keep = {k: np.asarray(v)[selection.is_lrg] for k, v in chunk.items()}
                keep["is_refined"] = selection.is_refined[selection.is_lrg]
                kept.append(keep)
            if progress:
                progress(n_rows)
    except cat.CatalogueError as exc:
        raise IngestError(str(exc)) from exc
    if not funnels:
        raise IngestError(f"{path}: the catalogue has no rows.")
    funnel = cuts.merge_funnels(funnels)
    if not kept:
        raise IngestError(
            f"{path}: no source passed the cuts ({n_rows:,d} rows read). Funnel:\n"
            + "\n".join(cuts.funnel_lines(funnel))
            + "\nCheck the column mapping (--columns) and the cut thresholds."
        )
    lrgs = {k: np.concatenate([part[k] for part in kept]) for k in kept[0]}
    ids = lrgs.get("id", np.array([], dtype=str))
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise IngestError(
            f"{path}: the ID column repeats for selected sources "
            f"({', '.join(unique[counts > 1][:5])}...): map --columns id=... to a unique column."
        )
    return lrgs, funnel, n_rows


def _write_tile_stamps(path, tiles, bands, pixscale, lrgs, size_px, progress=None):
    """Cut every LRG in every band into a stamp set; returns (flags, per-tile counts)."""
    band_tiles = {b: [t for band, t in tiles if band == b] for b in bands}
    n = len(lrgs.get("id", []))
    ra, dec = lrgs["ra"], lrgs["dec"]
    assigned = {b: cutouts.assign_tiles(band_tiles[b], ra, dec) for b in bands} if n else {}
    flags = np.zeros(n, np.uint8)
    per_tile = {}
    header = {"NSOURCE": n}
    writer = StampSetWriter(
        path,
        n,
        bands,
        (size_px, size_px),
        pixscale,
        survey="survey stamps",
        units="tile units",
        header=header,
    )
    with writer:
        for start in range(0, n, STAMP_CHUNK):
            sl = slice(start, min(start + STAMP_CHUNK, n))
            k = sl.stop - sl.start
            cube = np.full((k, len(bands), size_px, size_px), np.nan, np.float32)
            chunk_flags = np.zeros(k, np.uint8)
            for j, band in enumerate(bands):
                best, xs, ys = (a[sl] for a in assigned[band])
                chunk_flags[best < 0] |= cutouts.OUTSIDE
                for t, tile in enumerate(band_tiles[band]):
                    rows = np.flatnonzero(best == t)
                    if not len(rows):
                        continue
                    stamps, f = cutouts.cut_stamps(tile.data, xs[rows], ys[rows], size_px)
                    cube[rows, j] = stamps
                    chunk_flags[rows] |= f
                    per_tile[(band, t)] = per_tile.get((band, t), 0) + len(rows)
            flags[sl] = chunk_flags
            writer.write(cube, _stamp_meta(lrgs, sl, chunk_flags))
            if progress:
                progress(sl.stop, n)
    return flags, per_tile


def _stamp_meta(lrgs, sl, flags):
    return {
        "id": lrgs["id"][sl],
        "label": np.full(sl.stop - sl.start, -1, np.int16),
        "ra": lrgs["ra"][sl],
        "dec": lrgs["dec"][sl],
        "flags": flags,
    }


def _finite_or_none(value):
    value = float(value)
    return value if np.isfinite(value) else None


def _create_sources(survey, lrgs, flags, stamp_index=None, batch=2000):
    """Bulk-create the Source rows batch by batch (model instances are heavy:
    never all of them at once)."""
    n = len(lrgs.get("id", []))
    index = np.arange(n) if stamp_index is None else stamp_index
    for start in range(0, n, batch):
        rows = range(start, min(start + batch, n))
        names = iau_name(lrgs["ra"][start : rows.stop], lrgs["dec"][start : rows.stop])
        Source.objects.bulk_create(
            [_source(survey, lrgs, flags, index, i, names[i - start]) for i in rows]
        )


def _source(survey, lrgs, flags, index, i, name):
    return Source(
        survey=survey,
        name=str(name),
        catalogue_id=str(lrgs["id"][i])[:80],
        ra_deg=float(lrgs["ra"][i]),
        dec_deg=float(lrgs["dec"][i]),
        mag_g=_finite_or_none(lrgs["mag_g"][i]) if "mag_g" in lrgs else None,
        mag_r=_finite_or_none(lrgs["mag_r"][i]) if "mag_r" in lrgs else None,
        mag_i=_finite_or_none(lrgs["mag_i"][i]) if "mag_i" in lrgs else None,
        mag_auto=_finite_or_none(lrgs["mag_auto"][i]) if "mag_auto" in lrgs else None,
        is_refined=bool(lrgs["is_refined"][i]),
        stamp_index=int(index[i]),
        stamp_flags=int(flags[i]),
    )


def ingest_survey(
    name: str,
    catalogue: str | Path | None = None,
    tiles: Sequence[tuple[str, Path]] = (),
    stamps: str | Path | None = None,
    columns: dict[str, str] | None = None,
    lrg_cuts: cuts.LRGCuts | None = None,
    stamp_size: int = DEFAULT_STAMP_PX,
    user: User | None = None,
    progress: Callable | None = None,
    job_pk: int | None = None,
) -> Survey:
    """Ingest a survey; returns the ``Survey``.

    Parameters
    ----------
    name : str
        A new survey name (slug).
    catalogue : path-like, optional
        FITS, VOTable, ECSV or CSV; required with ``tiles``.
    tiles : sequence of (band, path)
        Image tiles, one FITS per band per pointing, any celestial WCS.
    stamps : path-like, optional
        A pre-cut stamp set with ``ra``, ``dec`` columns, instead of tiles.
        With a catalogue, stamps match catalogue LRGs by ``id``; without one,
        every stamp is a source.
    columns : dict or str, optional
        Catalogue column mapping (``inspection.ingest.sources.parse_mapping``).
    lrg_cuts : inspection.ingest.lrg_cuts.LRGCuts, optional
    stamp_size : int
        Stamp side in pixels (tiles only).
    progress : callable(stage, done, total), optional
    job_pk : int, optional
        The ``core.models.Job`` doing the ingest, if a job is: whether it
        lives is how a later ingest of the name tells a dead writer.
    """
    _check_name(name)
    tile_args = list(tiles or [])
    if bool(tile_args) == bool(stamps):
        raise IngestError(
            "Give the survey's image tiles (BAND=FILE) or a pre-cut stamp set, not both."
        )
    if tile_args and not catalogue:
        raise IngestError("Ingesting tiles needs a catalogue (--catalog FILE) to select LRGs from.")
    if isinstance(columns, str) or columns is None:
        try:
            columns = cat.parse_mapping(columns) if columns else {}
        except cat.CatalogueError as exc:
            raise IngestError(str(exc)) from exc
    if not 9 <= int(stamp_size) <= 1024:
        raise IngestError(f"Stamp size {stamp_size} px: choose 9-1024 (He et al.: 97).")
    lrg_cuts = lrg_cuts or cuts.LRGCuts()
    say = progress or (lambda stage, done, total: None)

    claim = _reserve(name, job_pk)
    folder = surveys_dir() / name
    try:
        _clear_dead_writer(folder)
        if tile_args:
            opened, bands, pixscale = _open_tiles(tile_args)
            lrgs, funnel, n_rows = select_from_catalogue(
                catalogue, columns, lrg_cuts, lambda n: say("catalogue", n, None)
            )
            folder.mkdir(parents=True)  # not exist_ok: the name is ours, its leftovers gone
            (folder / WRITER_MARK).write_text(claim.token)
            stamps_path = folder / "stamps.fits"
            flags, per_tile = _write_tile_stamps(
                stamps_path,
                opened,
                bands,
                pixscale,
                lrgs,
                int(stamp_size),
                lambda done, total: say("stamps", done, total),
            )
            stamp_index = None
            size = int(stamp_size)
            stored_path = str(stamps_path.relative_to(settings.DATA_DIR))
            origin = Survey.Origin.TILES
        else:
            stampset = _open_stampset(stamps)
            bands, pixscale, size = (
                stampset.bands,
                stampset.pixscale_arcsec,
                stampset.cube.shape[-1],
            )
            if catalogue:
                lrgs, funnel, n_rows = select_from_catalogue(catalogue, columns, lrg_cuts)
                lrgs, flags, stamp_index = _match_stamps(stampset, lrgs)
                funnel = [*funnel, ["with a stamp", int((flags == 0).sum())]]
            else:
                lrgs, flags, stamp_index = _stamps_as_sources(stampset)
                n_rows = len(stampset)
                funnel = [["stamps in", n_rows], ["valid coordinates", int((flags == 0).sum())]]
            per_tile = {}
            stored_path = str(Path(stamps).resolve())
            origin = Survey.Origin.STAMPS

        with transaction.atomic():
            survey = Survey.objects.create(
                name=name,
                bands=",".join(bands),
                pixscale_arcsec=pixscale,
                stamp_size=size,
                origin=origin,
                catalogue_path=str(Path(catalogue).resolve()) if catalogue else "",
                catalogue_sha256=sha256_of(catalogue) if catalogue else "",
                columns=columns,
                cuts=lrg_cuts.to_dict(),
                funnel=[list(step) for step in funnel],
                stamps_path=stored_path,
                n_catalogue=n_rows,
                created_by=user if user is not None and user.is_authenticated else None,
            )
            if tile_args:
                band_tiles = {b: [t for band, t in opened if band == b] for b in bands}
                Tile.objects.bulk_create(
                    _tile_row(survey, band, tile, per_tile.get((band, k), 0))
                    for band in bands
                    for k, tile in enumerate(band_tiles[band])
                )
            _create_sources(survey, lrgs, flags, stamp_index)
            claims.release(claim)
    except BaseException:
        if _written_by(folder, claim):
            shutil.rmtree(folder, ignore_errors=True)
        claims.release(claim)
        raise
    # Finished: the folder is the survey's now, never a leftover to clear.
    (folder / WRITER_MARK).unlink(missing_ok=True)
    return survey


def _reserve(name, job_pk=None):
    """Claim the survey name for this ingest, or say who holds it."""
    try:
        claim = claims.take(f"survey:{name}", job_pk)
    except claims.Held as exc:
        advice = (
            "wait for it to finish (or cancel the job)"
            if exc.claim.job_id
            else f"wait for it to finish (if it was killed on {exc.claim.host}, delete the "
            f"claim {exc.claim.key} in Django admin, Claims)"
        )
        raise IngestError(
            f"Survey {name!r} is being ingested by {claims.describe(exc.claim)}: {advice}, "
            "or choose another name."
        ) from exc
    if Survey.objects.filter(name=name).exists():  # finished while we asked
        claims.release(claim)
        raise IngestError(f"A survey named {name!r} exists already: choose another name.")
    return claim


def _written_by(folder, claim):
    """Whether ``folder`` is the unfinished work of ``claim``'s holder."""
    try:
        return (folder / WRITER_MARK).read_text() == claim.token
    except OSError:
        return False


def _clear_dead_writer(folder):
    """Remove ``folder`` when an ingest that no longer holds the name left it
    unfinished (marked with its claim, or holding only partial files); we
    hold the name, and no survey has it, so no live writer can be at work.
    A folder of unknown origin is left for a person to look at."""
    if not folder.exists():
        return
    mark = folder / WRITER_MARK
    partial_only = all(".partial-" in p.name for p in folder.iterdir())
    if not (mark.exists() or partial_only):
        raise IngestError(f"{folder} exists already (left by a deleted survey?): remove it first.")
    shutil.rmtree(folder)


def _tile_row(survey, band, tile, n_sources):
    height, width = tile.shape
    ra, dec = tile.wcs.pixel_to_world_values((width - 1) / 2, (height - 1) / 2)
    return Tile(
        survey=survey,
        band=band,
        path=str(Path(tile.path).resolve()),
        sha256=sha256_of(tile.path),
        width_px=width,
        height_px=height,
        ra_deg=float(ra),
        dec_deg=float(dec),
        n_sources=n_sources,
    )


def _open_stampset(path):
    try:
        stampset = read_stampset(path)
    except StampSetError as exc:
        raise IngestError(str(exc)) from exc
    missing = [c for c in ("ra", "dec") if c not in stampset.meta.colnames]
    if missing:
        raise IngestError(
            f"{path}: survey stamps need ra and dec columns in META (missing "
            f"{', '.join(missing)}; it has {', '.join(stampset.meta.colnames)})."
        )
    return stampset


def _stamps_as_sources(stampset):
    """Every stamp of a pre-cut set is a source; bad coordinates are flagged."""
    meta = stampset.meta
    ra = np.asarray(meta["ra"], np.float64)
    dec = np.asarray(meta["dec"], np.float64)
    ok = cuts.valid_coordinates(ra, dec)
    flag_r = np.asarray(meta["flag_r"]) if "flag_r" in meta.colnames else np.zeros(len(ra))
    lrgs = {
        "id": stampset.ids,
        "ra": np.where(ok, ra, 0.0),
        "dec": np.where(ok, dec, 0.0),
        "is_refined": flag_r == 0,
    }
    flags = np.where(ok, 0, FLAG_OUTSIDE).astype(np.uint8)
    return lrgs, flags, np.arange(len(ra))


def _match_stamps(stampset, lrgs):
    """Catalogue LRGs matched to stamps by id; an LRG without one is flagged."""
    where = {stamp_id: i for i, stamp_id in enumerate(stampset.ids)}
    ids = lrgs.get("id", np.array([], dtype=str))
    index = np.array([where.get(str(i), -1) for i in ids], dtype=np.int64)
    flags = np.where(index >= 0, 0, FLAG_OUTSIDE).astype(np.uint8)
    # Sources without a stamp still need a unique stamp_index: park them past the end.
    missing = np.flatnonzero(index < 0)
    index[missing] = len(stampset) + np.arange(len(missing))
    return lrgs, flags, index
