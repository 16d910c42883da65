"""The LRG selection of He et al. 2020 (Sect. 4) (pure: numpy, no Django).

Extended sources first (CLASS_STAR window, FLUX_RADIUS range, detected in
u, g, r and i), then the colour cuts of Petrillo et al. 2017, after
Eisenstein et al. 2001::

    r < 20,   |c_perp| < 0.2,   r < 14 + c_par / 0.3,
    c_par  = 0.7 (g - r) + 1.2 [(r - i) - 0.18],
    c_perp = (r - i) - (g - r) / 4 - 0.18,

and the *refined* sample adds FLAG_R = 0 (no masked regions). Every threshold
is a field of :class:`LRGCuts`. :func:`select` works on one chunk of
``inspection.ingest.sources.read_catalogue`` and reports the funnel (sources left
after each cut) so that a whole survey is the sum of its chunks
(:func:`merge_funnels`).

Which magnitudes: colours (``c_par``, ``c_perp``) use the aperture-matched
GAaP magnitudes (``mag_g``, ``mag_r``, ``mag_i``), meant for colours; the
two magnitude cuts use the total r-band magnitude MAG_AUTO, as Petrillo et
al. 2017 do (``LRGCuts.r_magnitude`` switches to GAaP r).

Comparisons with NaN are false, so a non-detection never passes a cut.
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Self

import numpy as np

R_MAGNITUDES = ("mag_auto", "mag_r")
NON_DETECTION_MAG = 99.0


def c_par(g: np.ndarray, r: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Eisenstein et al. 2001 colour ``c_par = 0.7 (g-r) + 1.2 [(r-i) - 0.18]`` (mag)."""
    g, r, i = (np.asarray(m, np.float64) for m in (g, r, i))
    return 0.7 * (g - r) + 1.2 * ((r - i) - 0.18)


def c_perp(g: np.ndarray, r: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Eisenstein et al. 2001 colour ``c_perp = (r-i) - (g-r)/4 - 0.18`` (mag)."""
    g, r, i = (np.asarray(m, np.float64) for m in (g, r, i))
    return (r - i) - (g - r) / 4.0 - 0.18


@dataclass(frozen=True)
class LRGCuts:
    """Thresholds of the LRG selection; defaults follow He et al. 2020 except where noted.

    Parameters
    ----------
    class_star_min, class_star_max : float
        Keep ``class_star_min <= CLASS_STAR <= class_star_max``. He et al.
        print "CLASS_STAR between 0.01 to 0.03", which would discard the
        most extended galaxies (CLASS_STAR ~ 0) and keep only a sliver of
        the 818,384 extended sources they report; the default is 0 to 0.5
        (0.5 is SExtractor's own star/galaxy boundary).
        ``class_star_min=0.01, class_star_max=0.03`` reproduces the printed
        window.
    flux_radius_min, flux_radius_max : float
        Keep ``flux_radius_min <= FLUX_RADIUS <= flux_radius_max``, in the
        catalogue's units: KiDS FLUX_RADIUS is in pixels (0.2"), and the
        paper's "5 to 30 arcsecs" means 5 to 30 pixels (30" would be larger
        than any LRG).
    require_ugri_detection : bool
        Require a measured magnitude in u, g, r and i (not NaN, not 99).
    r_max : float
        Keep ``r < r_max`` (mag).
    c_perp_max : float
        Keep ``|c_perp| < c_perp_max`` (mag).
    c_par_offset, c_par_scale : float
        Keep ``r < c_par_offset + c_par / c_par_scale`` (mag). The paper
        prints ``r < c_par/0.3``, which selects nothing (c_par ~ 1.4 for an
        LRG); 14 is the constant of Petrillo et al. 2017 and Eisenstein et
        al. 2001 (docs/design.md).
    refined_flag_r : int
        The refined sample keeps LRGs with ``FLAG_R == refined_flag_r``.
    r_magnitude : str
        The catalogue field used as ``r`` in the two magnitude cuts:
        ``"mag_auto"`` (total magnitude, Petrillo et al. 2017) or ``"mag_r"``
        (GAaP). Colours always use GAaP magnitudes.
    """

    class_star_min: float = 0.0
    class_star_max: float = 0.5
    flux_radius_min: float = 5.0
    flux_radius_max: float = 30.0
    require_ugri_detection: bool = True
    r_max: float = 20.0
    c_perp_max: float = 0.2
    c_par_offset: float = 14.0
    c_par_scale: float = 0.3
    refined_flag_r: int = 0
    r_magnitude: str = "mag_auto"

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type is float and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not np.isfinite(value)
            ):
                raise ValueError(f"LRGCuts.{f.name} must be a finite number, not {value!r}.")
        for low, high in (
            ("class_star_min", "class_star_max"),
            ("flux_radius_min", "flux_radius_max"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"LRGCuts.{low} ({getattr(self, low)}) is above {high} "
                    f"({getattr(self, high)}): swap them."
                )
        if self.c_perp_max <= 0:
            raise ValueError(f"LRGCuts.c_perp_max must be > 0 mag, not {self.c_perp_max}.")
        if self.c_par_scale <= 0:
            raise ValueError(
                f"LRGCuts.c_par_scale must be > 0 (the paper's 0.3), not {self.c_par_scale}."
            )
        if not isinstance(self.require_ugri_detection, bool | np.bool_):
            raise ValueError(
                f"LRGCuts.require_ugri_detection must be True or False, "
                f"not {self.require_ugri_detection!r}."
            )
        if isinstance(self.refined_flag_r, bool) or not isinstance(
            self.refined_flag_r, int | np.integer
        ):
            raise ValueError(
                f"LRGCuts.refined_flag_r must be an integer flag value (0: no masks), "
                f"not {self.refined_flag_r!r}."
            )
        if self.r_magnitude not in R_MAGNITUDES:
            raise ValueError(
                f"LRGCuts.r_magnitude must be one of {', '.join(R_MAGNITUDES)}, "
                f"not {self.r_magnitude!r}."
            )

    def to_dict(self) -> dict[str, Any]:
        """The thresholds as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        """Cuts from a dict such as :meth:`to_dict` wrote; absent keys keep their defaults.

        Integers for float thresholds (as JSON may give) are accepted.

        Raises
        ------
        ValueError
            On an unknown key (listing the valid ones) or an invalid value.
        """
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(
                f"Unknown LRG cut(s) {', '.join(unknown)}: the cuts are {', '.join(known)}."
            )
        values = {}
        for name, value in data.items():
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            values[name] = float(value) if known[name].type is float and is_number else value
        return cls(**values)

    def labels(self) -> list[str]:
        """Funnel labels, in order, built from the thresholds."""
        detection = (
            "detected in u,g,r,i" if self.require_ugri_detection else "u,g,r,i (not required)"
        )
        return [
            "sources in",
            "valid coordinates",
            f"extended ({self.class_star_min:g} <= CLASS_STAR <= {self.class_star_max:g})",
            f"size ({self.flux_radius_min:g} <= FLUX_RADIUS <= {self.flux_radius_max:g})",
            detection,
            f"r < {self.r_max:g}",
            f"|c_perp| < {self.c_perp_max:g}",
            f"r < {self.c_par_offset:g} + c_par/{self.c_par_scale:g}",
            f"refined (FLAG_R = {self.refined_flag_r})",
        ]


@dataclass
class Selection:
    """What :func:`select` found in one chunk; arrays are aligned with its rows.

    Attributes
    ----------
    is_lrg : ndarray of bool
        Passes every cut up to ``r < c_par_offset + c_par/c_par_scale``.
    is_refined : ndarray of bool
        ``is_lrg`` and ``FLAG_R == refined_flag_r``.
    valid_coords : ndarray of bool
        Finite RA in [0, 360) deg and Dec in [-90, 90] deg.
    c_par, c_perp : ndarray of float64
        The colours (mag), NaN where a band is missing.
    funnel : list of (str, int)
        Sources left after each cut in turn, from ``"sources in"`` to the
        refined sample (labels from :meth:`LRGCuts.labels`).
    """

    is_lrg: np.ndarray
    is_refined: np.ndarray
    valid_coords: np.ndarray
    c_par: np.ndarray
    c_perp: np.ndarray
    funnel: list


def valid_coordinates(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Finite RA in [0, 360) and Dec in [-90, 90] degrees."""
    ra, dec = np.asarray(ra, np.float64), np.asarray(dec, np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(ra) & np.isfinite(dec) & (ra >= 0) & (ra < 360) & (np.abs(dec) <= 90)


def _detected(mag):
    with np.errstate(invalid="ignore"):
        return np.isfinite(mag) & (np.abs(mag) < NON_DETECTION_MAG)


def select(chunk: Mapping[str, np.ndarray], cuts: LRGCuts | None = None) -> Selection:
    """Apply the LRG selection to one catalogue chunk.

    Parameters
    ----------
    chunk : dict
        ``{field: array}`` as from ``inspection.ingest.sources.read_catalogue``:
        ra, dec (deg), mag_u, mag_g, mag_r, mag_i, mag_auto (mag; NaN or 99
        for a non-detection), class_star, flux_radius, flag_r.
    cuts : LRGCuts, optional
        Defaults to ``LRGCuts()``.

    Returns
    -------
    Selection
    """
    cuts = cuts or LRGCuts()
    get = {k: np.asarray(v) for k, v in chunk.items()}
    ra, dec = get["ra"].astype(np.float64), get["dec"].astype(np.float64)
    # Magnitudes of 99 are treated as missing even when the chunk did not
    # come from read_catalogue (which already turns them into NaN).
    mags = {
        b: np.where(_detected(get[f"mag_{b}"]), get[f"mag_{b}"], np.nan).astype(np.float64)
        for b in "ugri"
    }
    r_cut = get[cuts.r_magnitude].astype(np.float64)
    r_cut = np.where(_detected(r_cut), r_cut, np.nan)
    class_star = get["class_star"].astype(np.float64)
    flux_radius = get["flux_radius"].astype(np.float64)
    par = c_par(mags["g"], mags["r"], mags["i"])
    perp = c_perp(mags["g"], mags["r"], mags["i"])

    with np.errstate(invalid="ignore"):
        valid = valid_coordinates(ra, dec)
        steps = [
            np.ones(len(ra), bool),
            valid,
            (class_star >= cuts.class_star_min) & (class_star <= cuts.class_star_max),
            (flux_radius >= cuts.flux_radius_min) & (flux_radius <= cuts.flux_radius_max),
            np.logical_and.reduce([_detected(mags[b]) for b in "ugri"])
            if cuts.require_ugri_detection
            else np.ones(len(ra), bool),
            r_cut < cuts.r_max,
            np.abs(perp) < cuts.c_perp_max,
            r_cut < cuts.c_par_offset + par / cuts.c_par_scale,
            get["flag_r"] == cuts.refined_flag_r,
        ]
    left, after, funnel = np.ones(len(ra), bool), [], []
    for label, step in zip(cuts.labels(), steps, strict=True):
        left = left & step
        after.append(left)
        funnel.append((label, int(left.sum())))
    # The last two steps are the c_par cut (LRGs) and FLAG_R (refined).
    return Selection(
        is_lrg=after[-2],
        is_refined=after[-1],
        valid_coords=valid,
        c_par=par,
        c_perp=perp,
        funnel=funnel,
    )


def merge_funnels(funnels: Sequence[list[tuple[str, int]]]) -> list[tuple[str, int]]:
    """Add the funnels of several chunks, cut by cut.

    Parameters
    ----------
    funnels : iterable of list of (str, int)

    Returns
    -------
    list of (str, int)
        Empty for no funnels.

    Raises
    ------
    ValueError
        When the funnels come from different cuts (their labels differ).
    """
    total = None
    for funnel in funnels:
        funnel = [(str(label), int(count)) for label, count in funnel]
        if total is None:
            total = funnel
            continue
        if [label for label, _ in funnel] != [label for label, _ in total]:
            raise ValueError(
                "Cannot merge funnels of different cuts: select every chunk with the same LRGCuts."
            )
        total = [(label, a + b) for (label, a), (_, b) in zip(total, funnel, strict=True)]
    return total or []


def funnel_lines(funnel: list[tuple[str, int]]) -> list[str]:
    """The funnel as text lines, counts right-aligned: ``"   818,384  extended"``."""
    return [f"  {int(count):>10,d}  {label}" for label, count in funnel]
