"""Creating and opening run directories: the run id, the manifest (written once) and the
state, and `Run`, a run's files in memory. Nothing written in this process is read back
from disk to continue: a new run is built from the objects it was created from."""

from __future__ import annotations

import platform
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import harness
from harness import crash
from harness.domain import dataset
from harness.domain.scenario import Example, Scenario, ScenarioError
from harness.errors import StoreError
from harness.store.run_dir import RunStore
from harness.store.run_files import Manifest, RunOptions, Settings, State, TrainingJob


@dataclass
class Run:
    """One run: where it lives, what it is (manifest) and how far it got (state)."""

    store: RunStore
    manifest: Manifest
    state: State
    known_examples: list[Example] | None = None  # resolved when first needed (reports never need them)

    @property
    def examples(self) -> list[Example]:
        if self.known_examples is None:
            try:
                self.known_examples = dataset.resolve_examples(self.scenario, Path(self.manifest.scenario_dir))
            except ScenarioError as e:  # an examples_file moved or changed since the run started
                raise StoreError(f"{self.store.dir}: cannot read the run's training examples: {e}") from None
        return self.known_examples

    @property
    def scenario(self) -> Scenario:
        return self.manifest.scenario

    @property
    def options(self) -> RunOptions:
        return self.manifest.options

    @property
    def settings(self) -> Settings:
        return self.manifest.settings

    @property
    def simulated(self) -> bool:
        return self.manifest.simulated or self.state.simulated

    def save(self) -> None:
        self.store.write_state(self.state)


def new_run_id(scenario: Scenario) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{scenario.name}-{stamp}-{uuid.uuid4().hex[:6]}"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(harness.__file__).parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {"harness": harness.__version__, "python": platform.python_version()}
    for pkg in ("litellm", "openai", "vcrpy"):
        try:
            found[pkg] = version(pkg)
        except PackageNotFoundError:
            found[pkg] = None
    return found


def create_run(
    store: RunStore,
    scenario_path: Path,
    scenario: Scenario,
    examples: list[Example],
    options: RunOptions,
    settings: Settings,
    simulated: bool,
    run_id: str,
) -> Run:
    """Write a new run's state, then its manifest: the manifest's presence is what makes a
    directory a run (RunStore.exists), so a kill between the two never leaves a run
    without state."""
    state = State(run_id=run_id)
    if options.model:  # an existing fine-tuned model: probed as replicate 0, nothing trained
        state.jobs.append(TrainingJob(training="fine_tuned", replicate=0, fine_tuned_model=options.model))
    store.write_state(state)
    crash.maybe_crash("creating_run")
    manifest = Manifest(
        run_id=run_id,
        scenario_path=str(scenario_path),
        scenario_dir=str(scenario_path.parent.resolve()),
        scenario_hash=scenario.hash(),
        scenario=scenario,
        options=options,
        settings=settings,
        simulated=simulated,
        versions=_versions(),
        git_commit=_git_commit(),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    store.write_manifest(manifest)
    return Run(store, manifest, state, examples)


def open_run(store: RunStore) -> Run:
    """A run directory's files, checked through their models (StoreError when damaged)."""
    manifest = store.read_manifest()
    state = store.read_state()
    if state.run_id != manifest.run_id:
        raise StoreError(
            f"{store.path('state.json')}: run_id: {state.run_id!r} is not this run's "
            f"({manifest.run_id!r} in manifest.json)"
        )
    return Run(store, manifest, state)
