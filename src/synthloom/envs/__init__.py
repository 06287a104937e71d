"""Stateful environments for agent data (τ-bench style, Yao et al. 2024, arXiv:2406.12045): a database
with a written policy and the tools that read and change it, executed in the sandbox and checked by
their final state. Bundled: ``store`` (a retail store's orders) and ``airline`` (an airline's bookings).
"""

from synthloom.envs.environment import (
    Environment,
    EnvironmentStateLost,
    canonical_state,
    environments,
    load_environment,
    state_diff,
    state_hash,
    states_equal,
)

__all__ = ["Environment", "EnvironmentStateLost", "canonical_state", "environments", "load_environment", "state_diff", "state_hash",
           "states_equal"]
