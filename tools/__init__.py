"""Developer tooling (not part of the package): the book build, notebook cleaning and badges, and the
nbclient workaround the notebook tests use. ``python -m tools.dev ...``."""
