"""Judging runs: image metrics, rows and groups, the MSE decomposition, costs, probes of the
gradient, the defence study and the verdicts on the report's claims."""
