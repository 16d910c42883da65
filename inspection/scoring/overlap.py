"""Candidate sets of runs compared by sky position (pure: numpy and astropy).

He et al. 2020 Table 3 counts the candidates two networks share. Runs on
the same survey share source rows, but the same field ingested twice (two
surveys, two data releases, a re-ingest with other cuts) does not: two
candidates are the same object when they lie within a radius of each
other. The match is the project's one cross-match,
``inspection.catalogues.prior_lists.crossmatch`` (astropy's
``match_to_catalog_sky``: a KD-tree on unit vectors, O(n log n)).

Positions are ICRS degrees, radii arcsec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inspection.catalogues.prior_lists import crossmatch

#: Two candidates within this distance are one object: well under the
#: 2-3 arcsec between neighbouring galaxies of a survey, well over the
#: astrometric scatter between releases (~0.1 arcsec).
DEFAULT_RADIUS_ARCSEC = 1.0


@dataclass
class PairOverlap:
    """How candidate set A meets candidate set B (indices into each set)."""

    shared_a: np.ndarray  # candidates of A with a candidate of B within the radius
    shared_b: np.ndarray  # the nearest candidate of B of each
    separation_arcsec: np.ndarray
    only_a: np.ndarray  # candidates of A with none of B within the radius
    only_b: np.ndarray  # candidates of B with none of A within the radius


def pair_overlap(
    ra_a: np.ndarray,
    dec_a: np.ndarray,
    ra_b: np.ndarray,
    dec_b: np.ndarray,
    radius_arcsec: float = DEFAULT_RADIUS_ARCSEC,
) -> PairOverlap:
    """Match two candidate sets both ways: each candidate of A to its nearest
    in B and each of B to its nearest in A.

    ``len(shared_a)`` may differ from ``len(b) - len(only_b)`` where two
    candidates of one set lie within the radius of one of the other.
    """
    shared_a, shared_b, sep = crossmatch(ra_a, dec_a, ra_b, dec_b, radius_arcsec)
    matched_b, _, _ = crossmatch(ra_b, dec_b, ra_a, dec_a, radius_arcsec)
    only_a = np.setdiff1d(np.arange(len(np.atleast_1d(ra_a))), shared_a)
    only_b = np.setdiff1d(np.arange(len(np.atleast_1d(ra_b))), matched_b)
    return PairOverlap(shared_a, shared_b, sep, only_a, only_b)


def overlap_counts(
    positions: Sequence[tuple[np.ndarray, np.ndarray]],
    radius_arcsec: float = DEFAULT_RADIUS_ARCSEC,
) -> list[list[int]]:
    """``counts[i][j]``: candidates of set i with a candidate of set j within
    the radius (the diagonal: each set's size). ``positions``: (ra, dec)
    arrays of each set, degrees."""
    counts = []
    for i, (ra_i, dec_i) in enumerate(positions):
        row = []
        for j, (ra_j, dec_j) in enumerate(positions):
            if i == j:
                row.append(len(ra_i))
            else:
                row.append(len(crossmatch(ra_i, dec_i, ra_j, dec_j, radius_arcsec)[0]))
        counts.append(row)
    return counts
