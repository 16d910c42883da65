"""The rq worker LensFinder runs (``manage.py rqworker default scoring``)."""

import threading

from redis.exceptions import RedisError
from rq.worker import BaseWorker, SimpleWorker, WorkerStatus

from core.liveness import process_space

# The worker's record in Redis says where its PID can be checked.
SPACE_FIELD = "lensfinder_process_space"


class Worker(SimpleWorker):
    """rq's SimpleWorker that keeps a heartbeat while a job runs.

    Jobs run in the worker process, as with SimpleWorker: torch hangs in a
    child forked from a parent that has used torch (docs/design.md). But
    SimpleWorker sends no heartbeat during a job; it sets its record to
    expire at the job's timeout + 60 s instead, so a worker killed mid-job
    looked alive for an hour (six for an ingest). This one renews a short
    expiry every ``job_monitoring_interval`` seconds (30) from a thread, as
    rq's forking worker does from its parent, so the record of a dead worker
    lapses within ~90 s whatever machine it ran on. It also records its
    process space, so that a reader on the same machine sees at once that
    its process is gone (``core.queue.worker_alive``).
    """

    def get_heartbeat_ttl(self, job, working_time=0.0):
        # rq's own short TTL, not SimpleWorker's timeout + 60 s: the thread
        # below renews it.
        return BaseWorker.get_heartbeat_ttl(self, job, working_time)

    def serialize(self):
        return {**super().serialize(), SPACE_FIELD: process_space()}

    def execute_job(self, job, queue):
        execution = self.prepare_execution(job)
        done = threading.Event()
        beat = threading.Thread(
            target=self._beat, args=(job, execution, done), name="rq-heartbeat", daemon=True
        )
        beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            done.set()
            beat.join()
        self.set_state(WorkerStatus.IDLE)

    def _beat(self, job, execution, done):
        while not done.wait(self.job_monitoring_interval):
            try:
                self.maintain_heartbeats(job, execution)
            except (RedisError, OSError) as exc:
                # A missed beat is retried at the next one; the job goes on.
                self.log.warning("Worker %s: heartbeat failed: %s", self.name, exc)
