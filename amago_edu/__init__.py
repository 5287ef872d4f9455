"""amago_edu: AMAGO-2 (Grigsby et al., NeurIPS 2024) re-implemented from scratch for teaching.

The package owns all logic; the notebooks in ``notebooks/`` explain it and call it.
"""

__version__ = "0.1.0"
