"""Jobs of the core app."""

import time

from core.progress import tracked


@tracked
def selftest(progress, steps, delay_s):
    """Count to ``steps``, sleeping ``delay_s`` seconds per step.

    Proves the queue end to end: a worker picks it up, progress, rate and
    ETA reach the page, and a cancel stops it.
    """
    progress.start(total=steps, unit="steps", message="counting")
    for i in range(steps):
        time.sleep(delay_s)
        progress.update(i + 1)
    return {"counted": steps}
