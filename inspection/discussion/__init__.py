"""Discussion after blind grading: comment threads, admins' final decisions
and the context of a candidate (prior-list matches, sky viewer, FITS stamps)."""
