"""Jobs of the core app."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from core.progress import tracked

if TYPE_CHECKING:
    from core.progress import Progress


@tracked
def selftest(progress: Progress, steps: int, delay_s: float) -> dict:
    """Count to ``steps``, sleeping ``delay_s`` seconds per step.

    Proves the queue end to end: a worker picks it up, progress, rate and
    ETA reach the page, and a cancel stops it.
    """
    progress.start(total=steps, unit="steps", message="counting")
    for i in range(steps):
        time.sleep(delay_s)
        progress.update(i + 1)
    return {"counted": steps}
