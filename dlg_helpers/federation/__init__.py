"""Gradient leakage inside a real federation: Flower clients, an honest-but-curious server, and
the updates it keeps (:mod:`.simulation`), turned back into what the attacks take
(:mod:`.recover`)."""
