"""Scoring one run against the truth it tried to recover: image metrics, identification in a
gallery, what counts as a leak, the labelled judgements that chose that decision, intervals, and
a run as a table row. The attack never imports these; it reports through an observer."""
