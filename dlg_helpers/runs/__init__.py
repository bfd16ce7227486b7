"""Runs: one attack end to end, what identifies it, its record on disk, and the store."""
