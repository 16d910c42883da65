"""Training that teaches (pure: no Django): which items an attempt shows and
in what order, and where the Einstein radius is drawn on a stamp.

An attempt shows ``n_items`` training items, half of them lenses where the
pool allows (an inspector must see both classes). A retake draws the items
not shown in any earlier attempt first, class by class, and fills up with
items already shown, all in a new random order (a new seed per attempt):
a retake never repeats the last attempt item for item, so an inspector
cannot pass by remembering answers. The first attempt's draw is the one
the training made before attempts were recorded (seeds ``training-<user>``
and ``order-<user>``), so that an inspector half-way through keeps their
items.
"""

import random
from collections.abc import Sequence

#: Reshuffles tried before a retake of the very items of the last attempt
#: gives up looking for another order (2 items: one other order exists).
MAX_RESHUFFLES = 100


def attempt_seeds(user_id: int, number: int) -> tuple[str, str]:
    """The seeds of attempt ``number`` (1, 2, ...) of an inspector: which
    items, and their order. Attempt 1 keeps the seeds of the training
    before attempts were recorded."""
    suffix = "" if number == 1 else f"-{number}"
    return f"training-{user_id}{suffix}", f"order-{user_id}{suffix}"


def draw_attempt(
    pool: Sequence[tuple[int, bool]],
    n_items: int,
    seeds: tuple[str, str],
    shown: frozenset[int] | set[int] = frozenset(),
    previous: Sequence[int] = (),
) -> list[int]:
    """The item ids of one attempt, in the order they are shown.

    Parameters
    ----------
    pool : sequence of (item id, is_lens)
        Every training item, in a fixed order (the draw depends on it).
    n_items : int
        Items per attempt: ``n_items // 2`` lenses, the rest non-lenses (as
        far as the pool has them).
    seeds : (str, str)
        Seeds of the choice and of the order (:func:`attempt_seeds`).
    shown : set of int
        Items shown in earlier attempts: taken only once the unseen items
        of their class run out.
    previous : sequence of int
        The last attempt's items in its order: if the draw is the same
        sequence (a pool no larger than an attempt), it is reshuffled until
        the order differs.

    Returns
    -------
    list of int
    """
    items = list(pool)
    random.Random(seeds[0]).shuffle(items)

    def pick(is_lens: bool, k: int) -> list[int]:
        fresh = [pk for pk, lens in items if lens == is_lens and pk not in shown]
        seen = [pk for pk, lens in items if lens == is_lens and pk in shown]
        return (fresh + seen)[: max(k, 0)]

    lenses = pick(True, n_items // 2)
    chosen = lenses + pick(False, n_items - len(lenses))
    order = random.Random(seeds[1])
    order.shuffle(chosen)
    previous = list(previous)
    for _ in range(MAX_RESHUFFLES):
        if chosen != previous or len(set(chosen)) < 2:
            break
        order.shuffle(chosen)
    return chosen


def circle_fraction(
    theta_e_arcsec: float | None, pixscale_arcsec: float, width_px: int
) -> float | None:
    """The Einstein radius as a fraction of the stamp's width (the radius of
    a circle drawn about the stamp's centre on a picture of any size), or
    None without one (a non-lens, an unknown radius).

    Parameters
    ----------
    theta_e_arcsec : float or None
        Einstein radius, arcsec.
    pixscale_arcsec : float
        Arcsec per stamp pixel.
    width_px : int
        The stamp's width, stamp pixels.
    """
    if theta_e_arcsec is None or not theta_e_arcsec > 0:
        return None
    if not pixscale_arcsec > 0 or width_px < 1:
        raise ValueError(
            f"A circle needs a positive pixel scale and width, not {pixscale_arcsec}, {width_px}."
        )
    return float(theta_e_arcsec) / (float(pixscale_arcsec) * int(width_px))
