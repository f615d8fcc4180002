"""Build hook: with RAPPORT_USE_MYPYC=1, compile the scoring hot path with mypyc.

Everything else about the package is in pyproject.toml. Scoring a book is
pure Python bound to the CPU (a million interactions cost tens of CPU
seconds); mypyc compiles the same type-checked modules to C extensions,
which score about 1.5x faster (a whole scoring process takes 1.2-1.5x less
CPU, docs/deploy.md "Sizing") with no change in what they compute.

Opt-in, as mypy and black do it: a source or editable install stays pure
Python, so an edited module takes effect at once; the image's wheel (see the
Dockerfile) is built compiled by tools/compiled-wheel. The compiled build
type-checks the modules against the installed dependencies, so it runs
without build isolation.
"""

from __future__ import annotations

import os

from setuptools import setup

# The modules a scoring run spends its CPU in (bench/score.py, docs/deploy.md):
# decoding and picking rows, preparing, tallying, explaining, encoding results.
COMPILED = [
    "scoring/__init__.py",
    "scoring/explain.py",
    "scoring/factors.py",
    "scoring/health.py",
    "scoring/introducers.py",
    "scoring/kpis.py",
    "scoring/model.py",
    "scoring/pipeline.py",
    "scoring/prepared.py",
    "scoring/rollup.py",
    "scoring/scope.py",
    "scoring/tally.py",
    "scoring/threads.py",
    "storage/kpi_rows.py",
    "storage/writeback.py",
    "worker/run/interactions.py",
    "worker/run/results.py",
    "worker/run/scopes.py",
    "worker/run/scoring_shares.py",
]


def compiled_modules() -> list[object]:
    if os.environ.get("RAPPORT_USE_MYPYC", "0") != "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as error:
        raise SystemExit(
            "RAPPORT_USE_MYPYC=1 needs mypy (which ships mypyc) installed in the build "
            "environment: pip install mypy, then pip install --no-build-isolation"
        ) from error
    return list(mypycify(COMPILED, opt_level="3", debug_level="0"))


setup(ext_modules=compiled_modules())
