"""Course material that the notebooks import, kept apart from the algorithm (``amago_edu``'s other modules):

- ``exercises``: the implement-the-method checks (reference solutions live in ``solutions/``, not here);
- ``artefacts``: the committed trained agents of ``data/checkpoints/`` (FAST mode shows them);
- ``notebook``: a notebook's first cell (FAST/seed/device, Colab and Binder);
- ``plotting``: the figures and the live training curve; ``diagrams``: the architecture and trial-timeline SVGs;
- ``recording``: one frozen-lake trial, recorded for plotting.
"""
