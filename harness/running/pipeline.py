"""The pipeline as resumable steps: prepare -> upload -> train -> probe -> report.

Every step reads the run directory first and does only what is missing, so `harness
resume` is the same code as `harness run`: no second upload, no second job, no sample
asked twice."""
from __future__ import annotations

import asyncio
import dataclasses
import platform
import subprocess
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import harness
from backends import base
from harness import crash
from harness.domain import dataset
from harness.domain import pricing
from harness.running import probing
from harness.reports import summary as report
from harness.errors import RunError
from harness.domain.judge import JUDGE
from harness.running.options import RunOptions, settings_for
from harness.running.plan import EST_PROMPT_TOKENS, Ledger
from harness.domain.scenario import Scenario
from harness.store.run_dir import EVENTS, MANIFEST, RESPONSES, STATE, TRAIN, RunStore, StoreError

RUN_ID_KEY = "harness_run_id"  # job metadata that lets a resume find its job again
STEPS = ("prepare", "upload", "train", "probe", "report")
MANIFEST_KEYS = ("run_id", "scenario_dir", "scenario_hash", "scenario", "options", "simulated")


class RunEnded(RunError):
    """The run stopped with a status other than "failed": "incomplete" when `harness resume`
    can finish it (budget reached, samples that failed transiently). `summary` is set when
    the reports were written before it ended."""

    def __init__(self, message: str, status: str, summary: dict | None = None):
        super().__init__(message)
        self.status = status
        self.summary = summary


# --- run directory ---------------------------------------------------------------------

def new_run_id(scenario: Scenario) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{scenario.name}-{stamp}-{uuid.uuid4().hex[:6]}"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(harness.__file__).parent)
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


def create_run(store: RunStore, scenario_path: Path, scenario: Scenario, options: RunOptions,
               simulated: bool, run_id: str) -> None:
    s = settings_for(scenario, options)
    # The manifest is written last: its presence is what makes a directory a run
    # (RunStore.exists), so a kill between the two writes never leaves a run without state.
    store.write_json(STATE, {"run_id": run_id, "status": "running", "steps": {}, "error": None,
                             "file_id": None, "job_id": None, "job_status": None,
                             "fine_tuned_model": options.model, "training_cost": None})
    crash.maybe_crash("creating_run")
    store.write_json(MANIFEST, {
        "run_id": run_id,
        "scenario_path": str(scenario_path),
        "scenario_dir": str(scenario_path.parent.resolve()),
        "scenario_hash": scenario.hash(),
        "scenario": scenario.model_dump(mode="json"),
        "options": dataclasses.asdict(options),
        "settings": dataclasses.asdict(s),
        "simulated": simulated,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })


def load_run(store: RunStore) -> tuple[Scenario, RunOptions, dict]:
    """The scenario, options and manifest of a run directory; StoreError (never a KeyError
    or a traceback) when the manifest is not one this harness wrote."""
    from pydantic import ValidationError

    if store.interrupted_at_creation():
        raise StoreError(f"{store.dir}: the run was interrupted while its directory was being created, "
                         "before anything was uploaded or asked; start it again with "
                         f"`harness run SCENARIO --out {store.dir}`")
    manifest = store.read_json(MANIFEST)

    def bad(what: str) -> StoreError:
        return StoreError(f"{store.path(MANIFEST)}: not a harness run manifest: {what}")
    if not isinstance(manifest, dict):
        raise bad(f"expected a JSON object, got {type(manifest).__name__}")
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise bad(f"missing {', '.join(missing)}")
    if not isinstance(manifest["options"], dict):
        raise bad("options is not an object")
    try:
        scenario = Scenario.model_validate(manifest["scenario"])
    except ValidationError as e:
        first = e.errors()[0]
        where = "".join(f".{x}" for x in first["loc"])
        raise bad(f"scenario{where}: {first['msg']}") from None
    try:
        options = RunOptions.from_dict(manifest["options"])
    except TypeError as e:
        raise bad(f"options: {e}") from None
    return scenario, options, manifest


def read_state(store: RunStore) -> dict:
    state = store.read_json(STATE)
    if not isinstance(state, dict) or "steps" not in state:
        raise StoreError(f"{store.path(STATE)}: not a harness run state")
    return state


# --- the pipeline ----------------------------------------------------------------------

class Pipeline:
    def __init__(self, store: RunStore, backend: base.Backend, ui: Any,
                 sleep: Callable[[float], None] = time.sleep):
        self.store = store
        self.backend = backend
        self.ui = ui
        self.sleep = sleep
        if hasattr(backend, "on_retry") and hasattr(ui, "retry"):
            backend.on_retry = ui.retry  # a provider that keeps failing is visible, not silent
        self.scenario, self.options, self.manifest = load_run(store)
        self.settings = settings_for(self.scenario, self.options)
        self.state = read_state(store)
        self.ledger: Ledger | None = None
        self.examples = dataset.resolve_examples(self.scenario, Path(self.manifest["scenario_dir"]))

    def save(self, **changes: Any) -> None:
        if getattr(self.backend, "simulated", False):
            changes["simulated"] = True  # the provider turned out to be our simulator
        self.state.update(changes)
        self.store.write_json(STATE, self.state)

    def _notice_simulated(self) -> None:
        """Save the moment a backend first sees the simulator's signature, so a run killed or
        failed afterwards is still reported SIMULATED."""
        if getattr(self.backend, "simulated", False) and not self.state.get("simulated"):
            self.save()

    def done(self, step: str) -> None:
        self.state["steps"][step] = "done"
        self.save()

    def execute(self) -> dict:
        try:
            if self.settings.train:
                self.prepare()
                self.upload()
                self.train()
            self.probe()
            if self.options.judge:
                self.judge()
            self._notice_simulated()
            ended = self._unanswered()
            if ended:  # saved first, so the reports written next say how the run ended
                self.save(status=ended.status, error=str(ended))
            summary = self.report()
        except RunError as e:
            cancelled = self.state.get("job_status") == base.CANCELLED
            status = getattr(e, "status", None) or ("cancelled" if cancelled else "failed")
            self.save(status=status, error=str(e))
            raise
        except (base.CassetteMiss, base.BackendError) as e:
            # The provider refused or stayed unreachable after retries: the run stops here,
            # and its state says why (`harness resume` tries again).
            self.save(status="failed", error=str(e))
            raise RunError(str(e)) from None
        if ended:
            ended.summary = summary
            raise ended
        self.save(status="succeeded", error=None)
        return summary

    def _unanswered(self) -> RunEnded | None:
        """A run with failed samples did not succeed, although its reports are written:
        "failed" when asking again cannot help (a non-retryable error such as a 404 for a
        mistyped model, or every sample of a condition failed), else "incomplete"."""
        failed = [r for r in self.responses().values() if r["status"] != "ok"]
        if not failed:
            return None
        first = failed[0]
        permanent = [r for r in failed if r.get("retryable") is False]
        total = self.settings.samples * len(self.scenario.probes)
        dead = [c for c in self.settings.conditions
                if sum(r["condition"] == c for r in failed) == total]
        if permanent or dead:
            first = permanent[0] if permanent else first
            why = (f"every sample of {', '.join(dead)} failed" if dead
                   else f"{len(permanent)} sample(s) failed with an error that asking again will not fix")
            return RunEnded(f"run failed: {why} ({len(failed)} failed in all; first: {first['error']}); "
                            "the report counts them as failed", "failed")
        return RunEnded(f"run incomplete: {len(failed)} sample(s) failed after retries (first: {first['error']}); "
                        f"`harness resume {self.store.dir}` asks them again", "incomplete")

    def prepare(self) -> None:
        if self.state["steps"].get("prepare") == "done" and self.store.path(TRAIN).exists():
            return
        records = dataset.chat_records(self.scenario, self.examples)
        self.store.write_bytes(TRAIN, dataset.to_jsonl(records))
        self.done("prepare")

    def upload(self) -> None:
        if self.state.get("file_id"):
            return
        # A name unique to the run lets a resume find a file whose upload landed although
        # the process died before saving its id: never upload twice.
        filename = f"{self.state['run_id']}.jsonl"
        if self.state["steps"].get("upload") == "uploading" and hasattr(self.backend, "find_files"):
            found = self.backend.find_files(filename)
            if found:
                self.state["steps"]["upload"] = "done"
                self.save(file_id=found[0].id)
                return
        self.state["steps"]["upload"] = "uploading"
        self.save()
        self.ui.step("upload", "uploading training file")
        ref = self.backend.upload_training_file(self.store.path(TRAIN).read_bytes(), filename)
        crash.maybe_crash("upload_unsaved")  # the file exists, its id is not saved
        self.state["steps"]["upload"] = "done"
        self.save(file_id=ref.id)  # one atomic write: the id and the step together
        crash.maybe_crash("after_upload")

    def _job_spec(self) -> base.JobSpec:
        ft = self.scenario.fine_tune
        return base.JobSpec(base_model=self.settings.base_model, training_file=self.state["file_id"],
                            suffix=ft.suffix, hyperparameters=dict(ft.hyperparameters), seed=ft.seed,
                            metadata={RUN_ID_KEY: self.state["run_id"]})

    def train(self) -> None:
        if self.state.get("fine_tuned_model"):
            return
        if not self.state.get("job_id"):
            # Mark the intent first: if we die between create and save, resume looks the job
            # up by run id instead of paying for a second one.
            if self.state["steps"].get("train") == "creating":
                found = self.backend.find_jobs({RUN_ID_KEY: self.state["run_id"]})
                if found:
                    self.save(job_id=found[0].id)
            if not self.state.get("job_id"):
                self.state["steps"]["train"] = "creating"
                self.save()
                job = self.backend.create_job(self._job_spec())
                crash.maybe_crash("after_create_job")  # the job exists, its id is not saved
                self.save(job_id=job.id, job_status=job.status)
        self._wait_for_job()

    def _wait_for_job(self) -> None:
        job_id = self.state["job_id"]
        interval = self.options.poll_interval if self.options.poll_interval is not None else 0.0
        events, _ = self.store.records(EVENTS)
        after = events[-1]["id"] if events else None
        self.ui.step("train", f"fine-tuning job {job_id}")
        while True:
            job = self.backend.get_job(job_id)
            new = self.backend.list_events(job_id, after=after)
            for ev in new:
                self.store.append(EVENTS, dataclasses.asdict(ev))
                after = ev.id
            self.ui.job(job, new)
            if job.status != self.state.get("job_status"):
                self.save(job_status=job.status)
            if job.done:
                break
            crash.maybe_crash("training")
            self.sleep(interval)
        if job.status != base.SUCCEEDED:
            raise RunError(f"fine-tuning job {job.id} ended {job.status}: {job.error or 'no message'}")
        tokens = job.trained_tokens
        cost = (pricing.training_cost(tokens, 1, self.settings.base_model) if tokens
                else pricing.training_cost(self._tokens(), self.settings.epochs, self.settings.base_model))
        self.save(fine_tuned_model=job.fine_tuned_model, training_cost=cost)
        self.done("train")

    def _tokens(self) -> int:
        return sum(dataset.count_tokens(dataset.chat_records(self.scenario, self.examples),
                                        self.settings.base_model))

    # -- probing ----------------------------------------------------------------------
    def model_for(self, condition: str) -> str:
        if condition == "fine_tuned":
            return self.state["fine_tuned_model"]
        return self.settings.base_model

    def responses(self) -> dict[tuple, dict]:
        """The latest record per (condition, probe, sample); a later ok replaces a failure."""
        records, dropped = self.store.records(RESPONSES)
        if dropped:
            self.ui.warn(f"dropped {dropped} torn record(s) in {RESPONSES}; they will be asked again")
        latest: dict[tuple, dict] = {}
        for r in records:
            key = (r["condition"], r["probe"], r["sample"])
            if key not in latest or latest[key]["status"] != "ok":
                latest[key] = r
        return latest


    def probe(self) -> None:
        s = self.settings
        have = self.responses()
        todo = [t for t in probing.tasks_for(self.scenario, s.conditions, s.samples, s.seed)
                if have.get(t.key, {}).get("status") != "ok"]
        total = len(s.conditions) * len(self.scenario.probes) * s.samples
        answered = total - len(todo)
        self.ui.step("probe", f"{total} samples" + (f", {answered} already done" if answered else ""))
        ledger = self._ledger()

        async def ask(task: probing.Task) -> None:
            record = await self._ask(task, ledger)
            if record is None:  # refused by the budget: not started, a resume asks it
                return
            crash.maybe_crash("probing")
            self.store.append(RESPONSES, record)
            self._notice_simulated()
            self.ui.advance(record)

        self.ui.progress_start(total, total - len(todo))
        try:
            self._run_async(probing.run_bounded(
                todo, ask, concurrency=self.options.concurrency, rpm=self.options.rpm,
                should_stop=lambda: ledger.refused is not None,
                tpm=self.options.tpm, tokens_per_request=self._tokens_per_request()))
        finally:
            self.ui.progress_stop()
        if ledger.refused:
            raise RunEnded(f"stopped probing: {ledger.refused}; `harness resume --max-cost USD` "
                           "continues with a higher cap", "incomplete")
        # One canonical file: the same bytes whatever order the answers arrived in.
        final = self.responses()
        self.store.rewrite_jsonl(RESPONSES, [final[k] for k in sorted(final)])
        self.done("probe")

    def _tokens_per_request(self) -> int:
        """What a provider's tokens-per-minute limit counts for one probe: its prompt (the
        largest, in_context, if probed) plus max_tokens."""
        prompt = EST_PROMPT_TOKENS
        if "in_context" in self.settings.conditions:
            prompt += self._tokens()
        return prompt + self.scenario.eval.max_tokens

    def _ledger(self) -> Ledger:
        """One ledger for the probe and judge steps, starting from what the run's files say
        was spent already (training, answers and verdicts of earlier attempts)."""
        if self.ledger is None:
            def paid() -> bool:
                return not getattr(self.backend, "simulated", False)
            spent = 0.0
            if paid():
                spent = spent_of(self.state, self.store.records(RESPONSES)[0], self.store.records(JUDGE)[0])
            self.ledger = Ledger(self.options.max_cost, spent, paid)
        return self.ledger

    async def _ask(self, task: probing.Task, ledger: Ledger) -> dict | None:
        options = probing.shuffled_options(task.probe, task.seed)
        prompt = probing.user_prompt(task.probe, options)
        model = self.model_for(task.condition)
        request = base.ChatRequest(
            model=model, messages=probing.messages_for(self.scenario, self.examples, task.condition, prompt),
            temperature=self.settings.temperature, seed=task.seed,
            max_tokens=self.scenario.eval.max_tokens)
        record = {"condition": task.condition, "probe": task.probe.id, "kind": task.probe.kind,
                  "sample": task.sample, "seed": task.seed, "model": model, "prompt": prompt,
                  "options": options, "status": "ok", "error": None, "text": None,
                  "prompt_tokens": 0, "completion_tokens": 0}
        ticket = ledger.reserve(request)  # no await before this: reserving is atomic
        if ticket is None:
            return None
        usage = (0, 0)
        try:
            completion = await self.backend.complete(request)
            usage = (completion.prompt_tokens, completion.completion_tokens)
        except base.BackendError as e:
            # Whether asking again can help decides if the run ends failed or incomplete.
            record.update(status="failed", error=str(e), retryable=bool(e.retryable))
            return record
        finally:
            ledger.settle(ticket, model, *usage)  # the reservation becomes the real cost
        record.update(text=completion.text, prompt_tokens=completion.prompt_tokens,
                      completion_tokens=completion.completion_tokens)
        return record

    def _run_async(self, work) -> None:
        """One event loop per async step; the backend's HTTP sessions belong to that loop,
        so they are closed before it ends."""
        async def main():
            try:
                await work
            finally:
                close = getattr(self.backend, "aclose", None)
                if close is not None:
                    await close()
        asyncio.run(main())

    def judge(self) -> None:
        """Grade describe answers with an LLM judge beside the rule-based grade (resumable:
        verdicts already in judge.jsonl are not asked again)."""
        from harness.domain import judge
        records, _ = self.store.records(RESPONSES)
        self.ui.step("judge", f"LLM judge {self.options.judge} grading describe answers")
        ledger = self._ledger()
        self._run_async(judge.judge_run(self.backend, self.options.judge, records, self.scenario.rule.word,
                                        self.scenario.rule.unit, self.store, concurrency=self.options.concurrency,
                                        seed=self.settings.seed, rpm=self.options.rpm, ledger=ledger))
        if ledger.refused:
            raise RunEnded(f"stopped judging: {ledger.refused}; `harness resume --max-cost USD` "
                           "continues with a higher cap", "incomplete")
        self.done("judge")

    # -- report -----------------------------------------------------------------------
    def report(self) -> dict:
        return render(self.store)


def render(store: RunStore) -> dict:
    """Score and report from the files alone: no model is called."""
    scenario, options, manifest = load_run(store)
    state = store.read_json(STATE)
    s = settings_for(scenario, options)
    records, _ = store.records(RESPONSES)
    models = {c: (state.get("fine_tuned_model") if c == "fine_tuned" else s.base_model) for c in s.conditions}
    simulated = bool(manifest["simulated"] or state.get("simulated"))
    meta = {"backend": options.backend, "simulated": simulated, "models": models,
            "samples": s.samples, "temperature": s.temperature, "seed": s.seed,
            "scenario_hash": manifest["scenario_hash"]}
    status = state.get("status")
    if status in ("failed", "cancelled", "incomplete"):  # the report of a run that ended early says so
        meta["run_status"] = status + (f": {state['error']}" if state.get("error") else "")
    summary = report.summarize(scenario, records, meta)
    report.write_reports(store.dir, summary, records)
    return summary


def _priced_records(records: list[dict], judged: list[dict]) -> list[dict]:
    return list(records) + [dict(j, model=j.get("judge_model") or "") for j in judged]


def spent_of(state: dict, records: list[dict], judged: list[dict] = ()) -> float:
    """Estimated spend so far: training (from the job's trained tokens) plus every answer's
    and every judge verdict's usage priced by our table. Unknown prices count as 0 here
    (the plan refused them unless --allow-unpriced was given); `unpriced_of` names them."""
    total = state.get("training_cost") or 0.0
    for r in _priced_records(records, judged):
        cost = pricing.inference_cost(r.get("prompt_tokens", 0), r.get("completion_tokens", 0), r["model"])
        total += cost or 0.0
    return total


def unpriced_of(records: list[dict], judged: list[dict] = ()) -> list[str]:
    """The models in a run's records that our price table does not know (their spend is
    counted as 0 by spent_of)."""
    models = {r.get("model") or "" for r in _priced_records(records, judged)}
    return sorted(m for m in models if not pricing.is_priced(m))
