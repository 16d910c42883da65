"""Stage 2, scoring: scoring runs split into chunks, candidates, thresholds and
exports (``services``; the chunk job itself is ``inspection.jobs.score_chunk``)."""
