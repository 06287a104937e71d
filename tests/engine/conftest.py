"""A real local Ray cluster shared by the Ray engine tests of this folder (started once, 2 CPUs)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_local():
    """``ray`` initialised on a local 2-CPU instance for the whole session (skipped without Ray)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
