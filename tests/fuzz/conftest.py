"""Hypothesis profiles for the fuzz suite: bounded and reproducible by default.

`fuzz` (the default) is what CI runs: derandomized, no example database, a fixed number of examples,
so the same commit always tries the same inputs. `fuzz-long` is for hunting locally
(`HYPOTHESIS_PROFILE=fuzz-long pytest -m fuzz`): many more examples from a random seed; pin what it
finds as an explicit `@example` next to the property.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz",
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=2),
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz-long", parent=settings.get_profile("fuzz"), max_examples=5_000, derandomize=False, print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz"))
