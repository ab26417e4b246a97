"""A run's options (what the user asked for) and its settings (what it actually uses once the
scenario's defaults are filled in). Both are run-file models saved in the manifest."""

from __future__ import annotations

from harness.domain.scenario import Scenario
from harness.domain.tokens import default_epochs
from harness.store.run_files import RunOptions, Settings

__all__ = ["RunOptions", "Settings", "settings_for"]


def settings_for(scenario: Scenario, options: RunOptions) -> Settings:
    """Computed once, when a run is created; a resumed run reads them from its manifest."""
    conditions = options.conditions or list(scenario.eval.conditions)
    replicates = options.replicates or scenario.fine_tune.replicates
    if options.model:
        # One existing model is probed: the scenario's sham (a fine-tune of the run's own) and
        # replicates do not apply, unless asked for on the command line (then refused).
        if not options.conditions:
            conditions = [c for c in conditions if c != "sham"] or ["fine_tuned"]
        replicates = options.replicates or 1
    # A missing n_epochs is the provider's default, "auto": estimate both the same way.
    epochs = scenario.fine_tune.hyperparameters.get("n_epochs", "auto")
    if not isinstance(epochs, int):  # what "auto" comes to (3 when the count is unknown)
        epochs = default_epochs(len(scenario.examples)) if scenario.examples else 3
    return Settings(
        samples=options.samples or scenario.eval.samples,
        temperature=scenario.eval.temperature if options.temperature is None else options.temperature,
        seed=options.seed if options.seed is not None else (scenario.fine_tune.seed or 0),
        conditions=conditions,
        train="fine_tuned" in conditions and not options.model,
        base_model=options.base_model or scenario.fine_tune.base_model,
        epochs=epochs,
        replicates=replicates,
    )
