"""The dotted path ``inspection.adapt.adapt_job`` that queued jobs and stored
``Job`` rows from before the stage packages name: the job is
``inspection.jobs.adapt_network``; nothing else lives here."""

from inspection.jobs import adapt_network as adapt_job  # noqa: F401
