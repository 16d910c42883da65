"""PNG previews of stamps (r band or g,r,i composite), rendered once and cached
on disk under ``DATA_DIR/previews`` so that no grading request renders.
No torch here: the web process serves these.

Pictures come from the one imaging layer (``core.display``); each cache
folder records the ``core.display.RENDERING`` its files were made under, and
files made under another are dropped the first time a process uses the
folder, so that a change of rendering never serves stale previews.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from core import display
from inspection import cutouts
from simulations.stampset import StampSetError, read_stampset

if TYPE_CHECKING:
    from inspection.models import Campaign, CampaignItem, KnownSet, Survey


KINDS = ("r", "rgb")


class PreviewError(ValueError):
    """No such stamp or preview; the message says which."""


@lru_cache(maxsize=8)
def _stampset(path, mtime):
    return read_stampset(path)


def rgb_bands(survey: Survey | KnownSet) -> list[int] | None:
    """Indices of g, r, i in the cube, or None."""
    bands = survey.band_list
    if display.has_rgb(bands):
        return [bands.index(b) for b in "gri"]
    return None


def kinds_of(survey: Survey) -> tuple:
    """The previews a survey's stamps have: r, and rgb where it has g, r, i."""
    return KINDS if rgb_bands(survey) is not None else ("r",)


def _stamps_of(owner):
    path = owner.stamps_file()
    try:
        return _stampset(str(path), path.stat().st_mtime)
    except (OSError, StampSetError) as exc:
        raise PreviewError(f"The stamps of {owner.name} cannot be read: {exc}") from exc


def stamp_image(
    owner: Survey | KnownSet, index: int, kind: str, like: Survey | None = None
) -> np.ndarray:
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
        return display.lupton_rgb(cube[bands[0]], cube[bands[1]], cube[bands[2]])
    grey = display.grey_band(shown.band_list)
    if grey not in owner.band_list:
        raise PreviewError(f"{owner.name} has no {grey} band.")
    return cube[owner.band_list.index(grey)]


def known_set_mismatch(known: KnownSet, survey: Survey) -> str | None:
    """Why the stamps of a known set cannot be shown exactly as the survey's
    (``cutouts.field_mismatch``), or None when they can."""
    try:
        stamps = _stamps_of(known)
    except PreviewError as exc:
        return f"cannot be read ({exc})"
    return cutouts.field_mismatch(
        known.band_list,
        known.pixscale_arcsec,
        stamps.cube.shape[-2:],
        survey.band_list,
        survey.pixscale_arcsec,
        survey.stamp_size,
    )


#: Cache folders this process has found (or made) current with ``display.RENDERING``.
_CURRENT = set()
_RENDERING_FILE = ".rendering"


def _cache_folder(key):
    """``DATA_DIR/previews/<key>``, emptied of previews rendered under another
    ``display.RENDERING`` (checked once per process and folder)."""
    folder = Path(settings.DATA_DIR) / "previews" / key
    if str(folder) in _CURRENT:
        return folder
    marker = folder / _RENDERING_FILE
    try:
        current = marker.read_text() == display.RENDERING
    except OSError:
        current = False
    if not current:
        for stale in folder.glob("*.png"):
            stale.unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{_RENDERING_FILE}.{os.getpid()}"
        tmp.write_text(display.RENDERING)
        os.replace(tmp, marker)
    _CURRENT.add(str(folder))
    return folder


def render_preview(
    survey: Survey | KnownSet,
    index: int,
    kind: str,
    stretch: str,
    cache_key: str | None = None,
    like: Survey | None = None,
) -> bytes:
    """PNG bytes of one stamp (see :func:`stamp_image`), cached on disk:
    rendered once, never twice on the grading request path. With a scale
    bar from the pixel scale of the stamps as shown (``like``'s, if given)."""
    key = cache_key or str(survey.pk)
    cache = _cache_folder(key) / f"{index}-{kind}-{stretch}.png"
    if cache.is_file():
        return cache.read_bytes()
    image = stamp_image(survey, index, kind, like=like)
    pixscale = (like or survey).pixscale_arcsec
    png = display.render_png(image, stretch=stretch, pixscale_arcsec=pixscale)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
    tmp.write_bytes(png)
    os.replace(tmp, cache)
    return png


def render_item(item: CampaignItem, survey: Survey, kind: str, stretch: str) -> bytes:
    """PNG bytes of a campaign item as its inspectors see it: a candidate's
    stamp, or a known item cut and rendered exactly as the survey's stamps
    (``like``), so that only what is in the stamp tells the two apart."""
    if item.source_id:
        return render_preview(survey, item.source.stamp_index, kind, stretch)
    known = item.known
    return render_preview(
        known.known_set,
        known.stamp_index,
        kind,
        stretch,
        cache_key=f"known-{known.known_set_id}-as-{survey.pk}",
        like=survey,
    )


def prerender_campaign(
    campaign: Campaign,
    stretches: Iterable[str] = ("asinh",),
    progress: Callable[[int, int], None] | None = None,
) -> int:
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
