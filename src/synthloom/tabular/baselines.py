"""The classical baselines as recipe steps, run by the same interface as every table generator
(:class:`~synthloom.tabular.generator_step.TableGenerator`): ``table_copula`` (a Gaussian copula,
Patki et al. 2016 via ``copulas``) and ``table_cart`` (CART sequential synthesis, synthpop: Nowok
et al. 2016). An LLM generator is worth its cost only when it beats these on the same real table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .copula import DISTRIBUTIONS, copula_sample
from .generator_step import TableGenerator

if TYPE_CHECKING:
    import pandas as pd

    from .schema import TableSchema

COPULA_CITATION = ("Patki, Wedge & Veeramachaneni 2016, The Synthetic Data Vault, IEEE DSAA "
                   "(Gaussian copula; implementation: the copulas library, sdv-dev)")
CART_CITATION = ("Nowok, Raab & Dibben 2016, synthpop: Bespoke Creation of Synthetic Data in R, "
                 "Journal of Statistical Software 74(11) (CART sequential synthesis)")


class TableCopula(TableGenerator):
    """Gaussian copula fitted on the real table's training part; ``distribution`` is the marginal
    family fitted to each column (beta, gaussian, kde, truncated_gaussian, uniform, or auto: the best
    of copulas' candidates); ``clip`` keeps numbers and dates inside the schema's range."""

    type_name = "table_copula"

    def __init__(self, name: str, *, real: str, rows: int = 100, holdout: float = 0.2, seed: int = 0,
                 schema: str | None = None, max_categories: int = 20, drop: list[str] | None = None,
                 target: str | None = None, distribution: str = "beta", clip: bool = True) -> None:
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}, not {distribution!r}")
        super().__init__(name, real=real, rows=rows, holdout=holdout, seed=seed, schema=schema,
                         max_categories=max_categories, drop=drop, target=target, citations=[COPULA_CITATION])
        self.distribution, self.clip = distribution, clip

    def generate(self, train: pd.DataFrame, schema: TableSchema, n: int, seed: int) -> pd.DataFrame:
        return copula_sample(train, schema, n, seed, distribution=self.distribution, clip=self.clip)


class TableCart(TableGenerator):
    """CART sequential synthesis (synthpop's default method): ``min_leaf`` real rows at least per
    tree leaf; ``visit_sequence`` the order columns are synthesised in (default: the schema's)."""

    type_name = "table_cart"

    def __init__(self, name: str, *, real: str, rows: int = 100, holdout: float = 0.2, seed: int = 0,
                 schema: str | None = None, max_categories: int = 20, drop: list[str] | None = None,
                 target: str | None = None, min_leaf: int = 5, visit_sequence: list[str] | None = None) -> None:
        if min_leaf < 1:
            raise ValueError(f"min_leaf must be at least 1, not {min_leaf}")
        super().__init__(name, real=real, rows=rows, holdout=holdout, seed=seed, schema=schema,
                         max_categories=max_categories, drop=drop, target=target, citations=[CART_CITATION])
        self.min_leaf, self.visit_sequence = min_leaf, list(visit_sequence) if visit_sequence else None

    def generate(self, train: pd.DataFrame, schema: TableSchema, n: int, seed: int) -> Any:
        from .cart import cart_sample

        return cart_sample(train, schema, n, seed, min_leaf=self.min_leaf, visit_sequence=self.visit_sequence)
