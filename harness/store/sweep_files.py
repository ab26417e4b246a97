"""sweep.json: a sweep's spec, backend and one entry per cell (its status is read from the
cell's run directory, which is the truth after a kill)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from harness.store.run_files import RunFile

CellStatus = Literal["pending", "running", "succeeded", "failed"]


class SweepCellEntry(RunFile):
    id: str
    word: str
    examples: int
    seed: int
    base_model: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    scenario: str  # the cell's scenario file, relative to the sweep directory
    run: str  # the cell's run directory, relative to the sweep directory
    scenario_hash: str
    estimate: float | None = None
    status: CellStatus = "pending"
    error: str | None = None
    updated_at: str


class SweepDocument(RunFile):
    sweep: str
    created_at: str
    updated_at: str | None = None
    backend: str
    sweep_file: str
    spec: dict[str, Any]  # the sweep file's spec, as loaded (harness.sweeps.spec.SweepSpec)
    status: Literal["running", "succeeded", "failed", "interrupted"] = "running"
    simulated: bool = False
    cells: list[SweepCellEntry] = Field(default_factory=list)

    def cell(self, cell_id: str) -> SweepCellEntry | None:
        return next((c for c in self.cells if c.id == cell_id), None)
