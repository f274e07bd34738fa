"""``pooling-xfw fuzz``: random cases across every operation, rank, layout, dtype and special
value, run on every backend, each result that is not ``agree`` classified by the cause the
diagnosis names, unexplained ones shrunk to a minimal case, clusters written to a folder.

``generate`` draws the cases (seeded per case), ``findings`` classifies and clusters,
``shrink`` reduces a case, ``campaign`` runs, stops and resumes, ``outputs`` writes.
"""
from .campaign import Campaign, run, start

__all__ = ["Campaign", "run", "start"]
