"""Adapting a network to a survey (``services``). Its own stage, beside the
four of the search: it reads an ingested survey's stamps and writes a new
network to the classifier's registry for scoring to use, so it belongs to
neither ingest nor scoring, and it is the one stage here that trains."""
