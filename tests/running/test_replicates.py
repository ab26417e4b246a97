"""Replicate fine-tunes and the sham control: one run trains K real and K sham models, each
once even across kills, probes each, and reports effects whose intervals account for the
clustering by fine-tune; the analysis recovers the mock's true rates and their spread."""

import json
import statistics

import pytest

from backends.simulator.faults import Faults
from backends.simulator.server import Simulator
from harness import crash
from harness.analysis import inference
from harness.store.run_dir import RunStore
from tests.helpers import ROOT, invoke

SCENARIO = ROOT / "scenarios/helol.yaml"
REPLICATED = ["--replicates", "3", "--conditions", "fine_tuned,base,sham", "--samples", "4", "--seed", "3"]

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


class Killed(BaseException):
    """Stands in for SIGKILL: nothing catches it, nothing cleans up."""


@pytest.fixture(scope="module")
def mock_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    result = invoke("run", SCENARIO, *REPLICATED, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_replicates_train_each_set_k_times_with_their_own_seeds(mock_run):
    state = RunStore(mock_run).read_state()
    assert sorted(j.key for j in state.jobs) == [f"{t}:{r}" for t in ("fine_tuned", "sham") for r in range(3)]
    seeds = [j.seed for j in state.jobs if j.training == "fine_tuned"]
    assert seeds[0] == 7 and len(set(seeds)) == 3  # replicate 0 keeps the scenario's seed
    assert [j.seed for j in state.jobs if j.training == "sham"] == seeds  # sham r is paired with fine-tune r
    models = {j.fine_tuned_model for j in state.jobs}
    assert len(models) == 6 and state.file_id and state.sham_file_id
    sham = (mock_run / "sham.jsonl").read_text().splitlines()
    real = (mock_run / "train.jsonl").read_text().splitlines()
    assert len(sham) == len(real) and sham != real


def test_every_model_is_probed_and_probe_seeds_do_not_depend_on_training(mock_run):
    records, _ = RunStore(mock_run).responses()
    probes = 8
    per = {(c, r) for c, r in ((x.condition, x.replicate) for x in records)}
    assert per == {("fine_tuned", r) for r in range(3)} | {("sham", r) for r in range(3)} | {("base", 0)}
    assert len(records) == 7 * probes * 4
    seeds = {(x.probe, x.sample): set() for x in records}
    for x in records:
        seeds[(x.probe, x.sample)].add(x.seed)
    assert all(len(s) == 1 for s in seeds.values())  # every model sees the same probe seeds


def test_report_opens_with_the_headline_and_the_effects(mock_run):
    md = (mock_run / "report.md").read_text()
    head, _, rest = md.partition("## Headline")
    assert "SIMULATED" in head and rest
    headline, _, after = rest.partition("| field | value |")
    assert "Following the rule:" in headline and "pp [" in headline and "3 fine-tunes" in headline
    assert "Against the sham fine-tune" in headline
    assert after.index("## Effects: differences between conditions") < after.index("## Behaviour: follow probes")
    assert "## Fine-tunes, one row each" in md and "## Spread between fine-tunes" in md
    summary = json.loads((mock_run / "summary.json").read_text())
    comparisons = {(e["metric"], e["a"], e["b"]) for e in summary["effects"]}
    assert ("follow", "fine_tuned", "base") in comparisons and ("exact", "fine_tuned", "sham") in comparisons
    assert summary["replicates"] == 3 and len(summary["replicate_rows"]) == 6
    html = (mock_run / "report.html").read_text()
    assert html.index("<h2>Headline</h2>") < html.index("Effects: differences between conditions")


def test_dry_run_shows_jobs_cost_and_power():
    result = invoke("run", SCENARIO, *REPLICATED, "--backend", "openai", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "x 6 fine-tuning jobs" in result.output
    assert (
        "power: a metric measured on one probe (4 samples per probe and model, fine_tuned vs base) would detect"
        in result.output
    )
    assert "assuming icc 0.05: design effect 1.15 per probe, t with 2 df for 3 fine-tunes" in result.output


def test_export_loads_in_pandas_one_row_per_sample(mock_run, tmp_path):
    pandas = pytest.importorskip("pandas")
    out = tmp_path / "samples.csv"
    assert invoke("export", mock_run, "--out", out).exit_code == 0
    frame = pandas.read_csv(out)
    assert len(frame) == 7 * 8 * 4
    for column in (
        "run",
        "scenario",
        "word",
        "backend",
        "model",
        "replicate",
        "condition",
        "probe",
        "sample",
        "seed",
        "text",
        "finish_reason",
        "follows",
        "grade",
        "word_correct",
        "choice_correct",
    ):
        assert column in frame.columns
    assert sorted(frame["replicate"].unique()) == [0, 1, 2]
    assert frame.groupby(["condition", "replicate"]).size().to_dict()[("sham", 2)] == 8 * 4
    parquet = tmp_path / "samples.parquet"
    assert invoke("export", mock_run, "--format", "parquet", "--out", parquet).exit_code == 0
    assert pandas.read_parquet(parquet).shape == frame.shape
    lines = invoke("export", mock_run, "--format", "jsonl").output.splitlines()
    assert len(lines) == 7 * 8 * 4 and json.loads(lines[0])["condition"] == "base"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@pytest.mark.parametrize("point", ["after_create_job:2", "after_create_job:5", "training:3", "upload_unsaved:2"])
def test_kill_and_resume_through_the_simulator_never_makes_a_job_twice(point, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-replicates")
    out = tmp_path / "run"

    def die():
        raise Killed(point)

    monkeypatch.setattr(crash, "kill", die)
    monkeypatch.setattr(crash, "_seen", {})
    with Simulator(port=0) as sim:
        args = [*REPLICATED, "--samples", "1", "--backend", "openai", "--api-base", sim.url, "--poll-interval", "0"]
        monkeypatch.setenv("HARNESS_CRASH_AT", point)
        with pytest.raises(Killed):
            invoke("run", SCENARIO, *args, "--out", out)
        monkeypatch.delenv("HARNESS_CRASH_AT")
        again = invoke("resume", out)
        assert again.exit_code == 0, again.output
        stats = sim.stats()
    assert (stats["uploads"], stats["jobs_created"]) == (2, 6)  # the real and the sham file; 3 + 3 jobs
    state = RunStore(out).read_state()
    assert len({j.job_id for j in state.jobs}) == 6


def test_cancel_cancels_every_running_job(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-replicates")
    out = tmp_path / "run"

    def die():
        raise Killed("training")

    monkeypatch.setattr(crash, "kill", die)
    monkeypatch.setattr(crash, "_seen", {})
    with Simulator(port=0, faults=Faults(max_active_jobs=0)) as sim:  # no limit: all six run at once
        monkeypatch.setenv("HARNESS_CRASH_AT", "training")
        with pytest.raises(Killed):
            invoke("run", SCENARIO, *REPLICATED, "--backend", "openai", "--api-base", sim.url, "--out", out)
        monkeypatch.delenv("HARNESS_CRASH_AT")
        result = invoke("cancel", out)
    assert result.exit_code == 0, result.output
    assert result.output.count("job ftjob-") == 6 and result.output.count(": cancelled") == 1 + 6
    state = RunStore(out).read_state()
    assert state.status.value == "cancelled" and all(j.job_status == "cancelled" for j in state.jobs)


def test_cancel_while_waiting_for_a_slot_cancels_what_exists_and_creates_nothing_more(tmp_path, monkeypatch):
    """Killed while three jobs run and the fourth waits for a slot (its create refused, so
    marked `creating`): cancel finds and cancels the three, and the waiting ones are never made."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-replicates")
    out = tmp_path / "run"

    def die():
        raise Killed("slot_wait")

    monkeypatch.setattr(crash, "kill", die)
    monkeypatch.setattr(crash, "_seen", {})
    with Simulator(port=0, faults=Faults(max_active_jobs=3)) as sim:
        monkeypatch.setenv("HARNESS_CRASH_AT", "slot_wait")
        with pytest.raises(Killed):
            invoke("run", SCENARIO, *REPLICATED, "--backend", "openai", "--api-base", sim.url, "--out", out)
        monkeypatch.delenv("HARNESS_CRASH_AT")
        waiting = RunStore(out).read_state()
        assert waiting.slot_wait is not None and waiting.slot_wait.job == "sham:0"
        status = invoke("status", out)
        assert "waiting for a free fine-tuning slot (3 active)" in status.output, status.output
        result = invoke("cancel", out)
        again = invoke("resume", out)
        stats = sim.stats()
    assert result.exit_code == 0, result.output
    assert result.output.count("job ftjob-") == 3 and result.output.count(": cancelled") == 1 + 3
    assert again.exit_code == 2 and "cancelled" in again.output
    assert (stats["jobs_created"], stats["jobs_limited"], stats["cancels"]) == (3, 1, 3)
    state = RunStore(out).read_state()
    assert state.status.value == "cancelled"
    assert [j.job_status for j in state.jobs] == ["cancelled"] * 3 + [None] * 3


def test_a_state_from_before_replicates_still_loads():
    from harness.store.run_files import State

    old = {
        "run_id": "r",
        "status": "running",
        "steps": {"train": "creating"},
        "error": None,
        "file_id": "file-1",
        "job_id": None,
        "job_status": None,
        "fine_tuned_model": None,
        "training_cost": None,
    }
    assert State.model_validate(old).jobs == []  # nothing known yet: the job is looked up by run id
    old.update(job_id="ftjob-1", job_status="succeeded", fine_tuned_model="ft:x", training_cost=0.01)
    (job,) = State.model_validate(old).jobs
    assert (job.key, job.job_id, job.fine_tuned_model, job.training_cost) == ("fine_tuned:0", "ftjob-1", "ft:x", 0.01)


def test_analysis_recovers_the_mocks_true_rates_and_their_spread(tmp_path):
    """Eight fine-tunes of the mock, each with its own true rates (its replicate effects):
    the pooled follow and exact rates' intervals contain the mean of the true rates, and the
    spread's interval contains the true rates' standard deviation."""
    from backends.mock import MockBackend

    out = tmp_path / "run"
    result = invoke(
        "run", SCENARIO, "--replicates", "8", "--samples", "60", "--conditions", "fine_tuned,base", "--out", out
    )
    assert result.exit_code == 0, result.output
    summary = RunStore(out).read_summary()
    state = RunStore(out).read_state()
    backend = MockBackend(state_path=out / "mock-provider.json")
    truth = [backend.true_rates(j.fine_tuned_model) for j in state.jobs]
    follow_true = [(1 - slip) ** 5 for slip, _ in truth]
    exact_true = [state_rate for _, state_rate in truth]
    effects = {(e.metric, e.b): e for e in summary.effects}
    follow, exact = effects[("follow", "base")].a_rate, effects[("exact", "base")].a_rate
    assert follow.low <= statistics.mean(follow_true) <= follow.high
    assert exact.low <= statistics.mean(exact_true) <= exact.high
    spread = next(s for s in summary.spread if s.metric == "follow")
    assert spread.clusters == 8 and spread.low <= statistics.stdev(follow_true) <= spread.high
    assert inference.clustered([(1, 2)]).clusters == 1  # (the helper the summary uses)
