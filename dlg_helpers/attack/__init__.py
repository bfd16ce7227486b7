"""The attacker's side: the registry of attacks, their settings, the objective and prior, the
labels read off the gradient, the engine, the trace it leaves, and the original loop."""
