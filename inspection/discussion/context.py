"""The context of a candidate shown beside its discussion (pure: numpy and
astropy, no Django): the Legacy Surveys sky-viewer link and FITS stamps.

Positions are ICRS degrees; pixel scales arcsec per pixel.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

import numpy as np
from astropy.io import fits

#: Prior-list entries within this radius of a candidate are shown on its page:
#: SLED's duplicate radius (the Strong Lens Database merges entries closer
#: than 16 arcsec), wide enough for a list's loose position of a group lens.
CONTEXT_RADIUS_ARCSEC = 16.0

LEGACY_VIEWER = "https://www.legacysurvey.org/viewer"
LEGACY_LAYER = "ls-dr10"
LEGACY_ZOOM = 16


def legacy_viewer_url(ra_deg: float, dec_deg: float) -> str:
    """A link to the Legacy Surveys sky viewer centred on a position (DR10
    layer, zoom 16: about 0.26 arcsec per screen pixel). Nothing is fetched:
    the browser follows the link.

    Examples
    --------
    >>> legacy_viewer_url(133.6939583, -1.3603167)
    'https://www.legacysurvey.org/viewer?ra=133.693958&dec=-1.360317&layer=ls-dr10&zoom=16'
    """
    query = {"ra": f"{ra_deg:.6f}", "dec": f"{dec_deg:.6f}", "layer": LEGACY_LAYER}
    return f"{LEGACY_VIEWER}?{urlencode(query)}&zoom={LEGACY_ZOOM}"


def stamp_fits(
    image: np.ndarray,
    *,
    ra_deg: float,
    dec_deg: float,
    pixscale_arcsec: float,
    band: str,
    name: str = "",
    survey: str = "",
    units: str = "",
) -> bytes:
    """One band of a stamp as a FITS file (bytes), with its position and
    pixel scale as header keywords but no WCS.

    A stamp set (docs/stampset.md) keeps each stamp's RA/Dec and the pixel
    scale, not the orientation of the image it was cut from (tiles may have
    any celestial WCS, pre-cut stamps any orientation) nor the sub-pixel
    offset of the source from the stamp's centre pixel (up to half a pixel):
    a WCS built from what is kept would be a guess that astronomy tools
    would trust. The header says where the source is instead:

    - ``RA``, ``DEC``: the source's catalogue position (deg, ICRS);
    - ``CENPIX1``, ``CENPIX2``: the FITS (1-based) pixel nearest that
      position, ``W // 2 + 1`` and ``H // 2 + 1`` (as the ingest cuts);
    - ``PIXSCALE``: arcsec per pixel; ``BAND``, ``OBJECT``, ``SURVEY``,
      ``BUNIT``.

    NaN pixels (masked, or beyond a tile's edge) stay NaN.
    """
    data = np.asarray(image, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"A stamp band is a 2-d image, not shape {data.shape}.")
    if not pixscale_arcsec > 0:
        raise ValueError(f"The pixel scale must be positive, not {pixscale_arcsec}.")
    height, width = data.shape
    header = fits.Header()
    header["OBJECT"] = (name, "source name")
    header["SURVEY"] = (survey, "survey the stamp was cut from")
    header["BAND"] = (band, "band of this image")
    header["RA"] = (float(ra_deg), "[deg] ICRS right ascension of the source")
    header["DEC"] = (float(dec_deg), "[deg] ICRS declination of the source")
    header["CENPIX1"] = (width // 2 + 1, "1-based x pixel nearest the source")
    header["CENPIX2"] = (height // 2 + 1, "1-based y pixel nearest the source")
    header["PIXSCALE"] = (float(pixscale_arcsec), "[arcsec/pixel]")
    if units:
        header["BUNIT"] = (units, "pixel units")
    header["COMMENT"] = "No WCS: the stamp set keeps no image orientation (docs/stampset.md)."
    out = io.BytesIO()
    fits.PrimaryHDU(data=data, header=header).writeto(out)
    return out.getvalue()
