"""Job functions used only by the tests (importable by a worker)."""

from core.progress import tracked


@tracked
def explode(progress, after):
    progress.start(total=after + 1, unit="steps")
    progress.update(after, force=True)
    raise ValueError(f"exploded after {after} steps")
