"""Job functions used only by the tests (importable by a worker)."""

from core.progress import tracked


@tracked
def explode(progress, after):
    progress.start(total=after + 1, unit="steps")
    progress.update(after, force=True)
    raise ValueError(f"exploded after {after} steps")


@tracked
def watch_heartbeat(progress, seconds):
    """Read this job's worker record in Redis, wait, read it again."""
    import time

    from rq import Worker, get_current_job

    rq_job = get_current_job()
    key = Worker.redis_worker_namespace_prefix + rq_job.worker_name
    before = rq_job.connection.hget(key, "last_heartbeat").decode()
    time.sleep(seconds)
    after = rq_job.connection.hget(key, "last_heartbeat").decode()
    return {"before": before, "after": after, "ttl_s": rq_job.connection.ttl(key)}
