"""PNG previews of stamps (r band or g,r,i composite), rendered once and cached
on disk under ``DATA_DIR/previews`` so that no grading request renders.
No torch here: the web process serves these."""

import os
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from inspection import cutouts
from simulations.stampset import StampSetError, read_stampset

KINDS = ("r", "rgb")


class PreviewError(ValueError):
    """No such stamp or preview; the message says which."""


@lru_cache(maxsize=8)
def _stampset(path, mtime):
    return read_stampset(path)


def rgb_bands(survey):
    """Indices of g, r, i in the cube, or None."""
    bands = survey.band_list
    if cutouts.has_rgb(bands):
        return [bands.index(b) for b in "gri"]
    return None


def kinds_of(survey) -> tuple:
    """The previews a survey's stamps have: r, and rgb where it has g, r, i."""
    return KINDS if rgb_bands(survey) is not None else ("r",)


def _stamps_of(owner):
    path = owner.stamps_file()
    try:
        return _stampset(str(path), path.stat().st_mtime)
    except (OSError, StampSetError) as exc:
        raise PreviewError(f"The stamps of {owner.name} cannot be read: {exc}") from exc


def stamp_image(owner, index, kind, like=None):
    """The picture of one stamp of a survey (or a known set: anything with
    ``stamps_file()``, ``band_list`` and ``name``): a 2-d float r-band stamp,
    or an (H, W, 3) uint8 g,r,i composite.

    With ``like`` (a survey), the stamp is shown as that survey's stamps
    are: cropped to its stamp size, its grey band, an RGB composite only
    where it has one (``known_set_mismatch`` tells whether that can be done).
    """
    stamps = _stamps_of(owner)
    if not 0 <= index < len(stamps):
        raise PreviewError("No such stamp.")
    cube = stamps.stamps(index)
    shown = like or owner
    if like is not None:
        if kind == "rgb" and rgb_bands(like) is None:
            raise PreviewError(f"{like.name} has no g, r and i bands for an RGB composite.")
        cube = cutouts.centre_crop(cube, like.stamp_size)
    if kind == "rgb":
        bands = rgb_bands(owner)
        if bands is None:
            raise PreviewError(f"{owner.name} has no g, r and i bands for an RGB composite.")
        return cutouts.lupton_rgb(cube[bands[0]], cube[bands[1]], cube[bands[2]])
    grey = cutouts.grey_band(shown.band_list)
    if grey not in owner.band_list:
        raise PreviewError(f"{owner.name} has no {grey} band.")
    return cube[owner.band_list.index(grey)]


def known_set_mismatch(known, survey) -> str | None:
    """Why the stamps of a known set cannot be shown exactly as the survey's
    (``cutouts.field_mismatch``), or None when they can."""
    try:
        stamps = _stamps_of(known)
    except PreviewError as exc:
        return f"cannot be read ({exc})"
    return cutouts.field_mismatch(known.band_list, known.pixscale_arcsec, stamps.cube.shape[-2:],
                                  survey.band_list, survey.pixscale_arcsec,
                                  survey.stamp_size)  # fmt: skip


def render_preview(survey, index, kind, stretch, cache_key=None, like=None):
    """PNG bytes of one stamp (see :func:`stamp_image`), cached on disk:
    rendered once, never twice on the grading request path."""
    key = cache_key or str(survey.pk)
    cache = Path(settings.DATA_DIR) / "previews" / key / f"{index}-{kind}-{stretch}.png"
    if cache.is_file():
        return cache.read_bytes()
    png = cutouts.render_png(stamp_image(survey, index, kind, like=like), stretch=stretch)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
    tmp.write_bytes(png)
    os.replace(tmp, cache)
    return png


def render_item(item, survey, kind: str, stretch: str) -> bytes:
    """PNG bytes of a campaign item as its inspectors see it: a candidate's
    stamp, or a known item cut and rendered exactly as the survey's stamps
    (``like``), so that only what is in the stamp tells the two apart."""
    if item.source_id:
        return render_preview(survey, item.source.stamp_index, kind, stretch)
    known = item.known
    return render_preview(known.known_set, known.stamp_index, kind, stretch,
                          cache_key=f"known-{known.known_set_id}-as-{survey.pk}",
                          like=survey)  # fmt: skip


def prerender_campaign(campaign, stretches=("asinh",), progress=None):
    """Render every preview a campaign's inspectors will ask for (default
    stretch), so grading requests only read cached files."""
    survey = campaign.run.survey
    items = list(campaign.items.select_related("source", "known__known_set"))
    for n, item in enumerate(items, 1):
        for kind in kinds_of(survey):
            for stretch in stretches:
                render_item(item, survey, kind, stretch)
        if progress:
            progress(n, len(items))
    return len(items)
