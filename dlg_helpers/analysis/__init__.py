"""Outcomes over many runs: groups of runs and their summaries, the MSE decomposition, costs,
probes of the gradient, the defence study and its prices, success rates over the atlas, and the
verdicts on the report's claims. Numbers and typed outcomes only; the chapters write the words."""
