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
    if all(b in bands for b in "gri"):
        return [bands.index(b) for b in "gri"]
    return None


def stamp_image(owner, index, kind):
    """The picture of one stamp of a survey (or a known set: anything with
    ``stamps_file()``, ``band_list`` and ``name``): a 2-d float r-band stamp,
    or an (H, W, 3) uint8 g,r,i composite."""
    path = owner.stamps_file()
    try:
        stamps = _stampset(str(path), path.stat().st_mtime)
    except (OSError, StampSetError) as exc:
        raise PreviewError(f"The stamps of {owner.name} cannot be read: {exc}") from exc
    if not 0 <= index < len(stamps):
        raise PreviewError("No such stamp.")
    cube = stamps.stamps(index)
    if kind == "rgb":
        bands = rgb_bands(owner)
        if bands is None:
            raise PreviewError(f"{owner.name} has no g, r and i bands for an RGB composite.")
        return cutouts.lupton_rgb(cube[bands[0]], cube[bands[1]], cube[bands[2]])
    band = owner.band_list.index("r") if "r" in owner.band_list else 0
    return cube[band]


def render_preview(survey, index, kind, stretch, cache_key=None):
    """PNG bytes of one stamp (see :func:`stamp_image`), cached on disk:
    rendered once, never twice on the grading request path."""
    key = cache_key or str(survey.pk)
    cache = Path(settings.DATA_DIR) / "previews" / key / f"{index}-{kind}-{stretch}.png"
    if cache.is_file():
        return cache.read_bytes()
    png = cutouts.render_png(stamp_image(survey, index, kind), stretch=stretch)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
    tmp.write_bytes(png)
    os.replace(tmp, cache)
    return png


def prerender_campaign(campaign, stretches=("asinh",), progress=None):
    """Render every preview a campaign's inspectors will ask for (default
    stretch), so grading requests only read cached files."""
    items = list(campaign.items.select_related("source__survey", "known__known_set"))
    for n, item in enumerate(items, 1):
        if item.source_id:
            owner, index, key = item.source.survey, item.source.stamp_index, None
        else:
            owner, index = item.known.known_set, item.known.stamp_index
            key = f"known-{owner.pk}"
        for kind in KINDS:
            for stretch in stretches:
                if kind == "rgb" and rgb_bands(owner) is None:
                    continue
                render_preview(owner, index, kind, stretch, cache_key=key)
        if progress:
            progress(n, len(items))
    return len(items)
