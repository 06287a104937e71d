"""What a step sees of the run: its models, the recipe parameters and a folder for spill files."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class ModelLookup(Protocol):
    """Anything that hands out built model clients by recipe name (see ``llm.client.ModelRegistry``)."""

    def get(self, name: str) -> Any: ...


@dataclass
class StepContext:
    """The run's resources, as seen by one step."""

    step: str
    models: ModelLookup
    params: dict[str, Any] = field(default_factory=dict)
    state_dir: Path | None = None

    @property
    def spill_dir(self) -> Path:
        """A private folder for this step's spill files (created on first use)."""
        if self.state_dir is None:
            raise RuntimeError("this context has no state folder")
        path = self.state_dir / "spill" / self.step
        path.mkdir(parents=True, exist_ok=True)
        return path

    def model(self, name: str) -> Any:
        return self.models.get(name)

    def for_step(self, step: str) -> StepContext:
        return dataclasses.replace(self, step=step)
