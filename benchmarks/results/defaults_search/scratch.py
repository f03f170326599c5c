"""Shared by the rounds' scratch runners (``round*/ds_*.py``): run ``defaults_search.py``
with a patch of the committed code applied when an environment variable is set."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/


def run(variable, patch):
    """Call ``patch()`` when ``variable`` is set in the environment, then run
    ``defaults_search.py``'s command line (without it: the committed code)."""
    if os.environ.get(variable):
        patch()
    import defaults_search

    defaults_search.main()
