"""The sweep directory: sweep.yaml (a copy of the file), sweep.json (cells and their status,
written atomically) and cells/<cell-id>/{scenario.yaml,run/}. A run directory is the truth
about its cell: re-running the same command skips finished cells and resumes unfinished ones
(no second upload, no second job, no sample asked twice)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from harness import limits
from harness.errors import StoreError
from harness.store.files import dump_json, read_run_file, write_atomic
from harness.store.run_dir import RunStore, validation_message
from harness.store.run_files import RunStatus
from harness.store.sweep_files import CellStatus, SweepCellEntry, SweepDocument
from harness.sweeps.spec import GeneratedCell, SweepError, SweepFile, SweepSpec

SWEEP_STATE = "sweep.json"
SWEEP_COPY = "sweep.yaml"
CELLS = "cells"
PENDING: CellStatus = "pending"
RUNNING: CellStatus = "running"
SUCCEEDED: CellStatus = "succeeded"
FAILED: CellStatus = "failed"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SweepState:
    """sweep.json in memory. Worker threads update cells; a lock keeps each write whole, and
    every write is atomic (rename)."""

    def __init__(self, directory: Path, doc: SweepDocument):
        self.dir = directory
        self.doc = doc
        self._lock = threading.Lock()

    @classmethod
    def read(cls, directory: Path) -> SweepState | None:
        path = directory / SWEEP_STATE
        if not path.exists():
            return None
        try:
            data = limits.load_json(read_run_file(path) or b"")
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, limits.LimitError) as e:
            raise StoreError(f"{path}: unreadable: {e}") from None
        try:
            return cls(directory, SweepDocument.model_validate(data))
        except ValidationError as e:
            raise StoreError(f"{path}: {validation_message(e)}") from None

    def cell(self, cell_id: str) -> SweepCellEntry:
        entry = self.doc.cell(cell_id)
        if entry is None:
            raise KeyError(cell_id)  # a bug: cells come from this sweep's own matrix
        return entry

    def update(self, cell_id: str, status: CellStatus, error: str | None) -> None:
        with self._lock:
            entry = self.cell(cell_id)
            entry.status, entry.error, entry.updated_at = status, error, now()
            self._write()

    def save(self, status: str | None = None, simulated: bool | None = None) -> None:
        with self._lock:
            if status is not None:
                self.doc.status = status  # type: ignore[assignment]  # validated on assignment
            if simulated is not None:
                self.doc.simulated = simulated
            self.doc.updated_at = now()
            self._write()

    def _write(self) -> None:
        write_atomic(self.dir / SWEEP_STATE, dump_json(self.doc.model_dump(mode="json")))


def write_text(path: Path, text: str) -> None:
    write_atomic(path, text)


def cell_dir(sweep_dir: Path, cell_id: str) -> Path:
    return sweep_dir / CELLS / cell_id


def run_status(run_dir: Path) -> tuple[CellStatus, str | None]:
    """A cell's status read from its run directory (the truth after a kill): pending (no
    run yet), succeeded (report written), failed, or running (started, unfinished)."""
    store = RunStore(run_dir)
    if not store.exists():
        return PENDING, None
    try:
        state = store.read_state()
    except StoreError as e:
        return RUNNING, str(e)
    if state.status == RunStatus.SUCCEEDED:
        return (SUCCEEDED, None) if store.path("summary.json").exists() else (RUNNING, "report missing")
    if state.status in (RunStatus.FAILED, RunStatus.CANCELLED):
        return FAILED, state.error or state.status.value
    return RUNNING, state.error


def check_directory(sweep_dir: Path, spec: SweepSpec, backend: str, state: SweepState | None) -> None:
    """Refuse to mix sweeps or backends in one directory."""
    if state is None:
        if sweep_dir.exists() and any(p.name != ".lock" for p in sweep_dir.iterdir()):
            raise StoreError(f"{sweep_dir}: exists, is not empty and holds no {SWEEP_STATE}; choose another --out")
        return
    if state.doc.sweep != spec.name:
        raise StoreError(f"{sweep_dir}: holds sweep {state.doc.sweep!r}, not {spec.name!r}; choose another --out")
    if state.doc.backend != backend:
        raise StoreError(
            f"{sweep_dir}: this sweep runs on backend {state.doc.backend!r}; "
            f"pass --backend {state.doc.backend} or choose another --out"
        )


def check_unchanged(sweep_dir: Path, gen: list[GeneratedCell]) -> None:
    """A cell that already started must still describe the same scenario: a changed
    samples, unit, temperature or conditions under a started run would mix two
    experiments in one report."""
    for g in gen:
        store = RunStore(cell_dir(sweep_dir, g.cell.id) / "run")
        if not store.exists():
            continue
        if store.read_manifest().scenario_hash != g.scenario.hash():
            raise SweepError(
                f"cell {g.cell.id} already ran a different scenario (were samples, unit, "
                "temperature or conditions changed?); use a new --out for the new sweep"
            )


def build_state(
    sweep_dir: Path,
    sf: SweepFile,
    backend: str,
    gen: list[GeneratedCell],
    estimates: list[float | None],
    old: SweepState | None,
) -> SweepState:
    """The state of this invocation: the current matrix, each cell's status read from its
    run directory. Cells dropped from the file stay on disk but leave the report."""
    cells = []
    for g, estimate in zip(gen, estimates):
        c = g.cell
        status, error = run_status(cell_dir(sweep_dir, c.id) / "run")
        cells.append(
            SweepCellEntry(
                id=c.id,
                word=c.word,
                examples=c.examples,
                seed=c.seed,
                base_model=c.base_model,
                hyperparameters=c.hyperparameters,
                scenario=f"{CELLS}/{c.id}/scenario.yaml",
                run=f"{CELLS}/{c.id}/run",
                scenario_hash=g.scenario.hash(),
                estimate=estimate,
                status=status,
                error=error,
                updated_at=now(),
            )
        )
    doc = SweepDocument(
        sweep=sf.spec.name,
        created_at=old.doc.created_at if old else now(),
        updated_at=old.doc.updated_at if old else None,
        backend=backend,
        sweep_file=str(sf.path),
        spec=sf.spec.model_dump(mode="json"),
        status="running",
        simulated=old.doc.simulated if old else False,
        cells=cells,
    )
    return SweepState(sweep_dir, doc)
