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
from harness import crash, dataset, pricing, probing, report
from harness.errors import RunError
from harness.options import RunOptions, settings_for
from harness.plan import EST_PROMPT_TOKENS
from harness.scenario import Scenario
from harness.store import EVENTS, MANIFEST, RESPONSES, STATE, TRAIN, RunStore

RUN_ID_KEY = "harness_run_id"  # job metadata that lets a resume find its job again
STEPS = ("prepare", "upload", "train", "probe", "report")


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
    store.write_json(STATE, {"run_id": run_id, "status": "running", "steps": {}, "error": None,
                             "file_id": None, "job_id": None, "job_status": None,
                             "fine_tuned_model": options.model, "training_cost": None})


def load_run(store: RunStore) -> tuple[Scenario, RunOptions, dict]:
    manifest = store.read_json(MANIFEST)
    scenario = Scenario.model_validate(manifest["scenario"])
    return scenario, RunOptions.from_dict(manifest["options"]), manifest


# --- the pipeline ----------------------------------------------------------------------

class Pipeline:
    def __init__(self, store: RunStore, backend: base.Backend, ui: Any,
                 sleep: Callable[[float], None] = time.sleep):
        self.store = store
        self.backend = backend
        self.ui = ui
        self.sleep = sleep
        self.scenario, self.options, self.manifest = load_run(store)
        self.settings = settings_for(self.scenario, self.options)
        self.state = store.read_json(STATE)
        self.examples = dataset.resolve_examples(self.scenario, Path(self.manifest["scenario_dir"]))

    def save(self, **changes: Any) -> None:
        self.state.update(changes)
        self.store.write_json(STATE, self.state)

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
            if getattr(self.backend, "simulated", False) and not self.state.get("simulated"):
                self.save(simulated=True)  # the provider turned out to be our simulator
            summary = self.report()
        except RunError as e:
            cancelled = self.state.get("job_status") == base.CANCELLED
            self.save(status="cancelled" if cancelled else "failed", error=str(e))
            raise
        except (base.CassetteMiss, base.BackendError) as e:
            # The provider refused or stayed unreachable after retries: the run stops here,
            # and its state says why (`harness resume` tries again).
            self.save(status="failed", error=str(e))
            raise RunError(str(e)) from None
        self.save(status="succeeded", error=None)
        return summary

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
        return base.JobSpec(base_model=ft.base_model, training_file=self.state["file_id"],
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
        self.ui.step("probe", f"{total - len(todo)} of {total} samples already done")
        spent = [0.0 if getattr(self.backend, "simulated", False) else spent_of(self.state, list(have.values()))]
        stopped: list[str] = []

        def over_budget() -> bool:
            if spent[0] + self._call_estimate() > self.options.max_cost:
                stopped.append(f"stopped probing: spend ${spent[0]:.2f} would exceed --max-cost "
                               f"${self.options.max_cost:.2f}")
                return True
            return False

        async def ask(task: probing.Task) -> None:
            record = await self._ask(task)
            crash.maybe_crash("probing")
            self.store.append(RESPONSES, record)
            if not getattr(self.backend, "simulated", False):
                spent[0] += pricing.inference_cost(record["prompt_tokens"], record["completion_tokens"],
                                                   record["model"]) or 0.0
            self.ui.advance(record)

        self.ui.progress_start(total, total - len(todo))
        try:
            self._run_async(probing.run_bounded(
                todo, ask, concurrency=self.options.concurrency, rpm=self.options.rpm, should_stop=over_budget,
                tpm=self.options.tpm, tokens_per_request=self._tokens_per_request()))
        finally:
            self.ui.progress_stop()
        if stopped:
            raise RunError(stopped[0])
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

    def _call_estimate(self) -> float:
        cost = pricing.inference_cost(EST_PROMPT_TOKENS, self.scenario.eval.max_tokens, self.model_for("fine_tuned")
                                      if self.state.get("fine_tuned_model") else self.settings.base_model)
        return cost or 0.0

    async def _ask(self, task: probing.Task) -> dict:
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
        try:
            completion = await self.backend.complete(request)
        except base.BackendError as e:
            record.update(status="failed", error=str(e))
            return record
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
        from harness import judge
        records, _ = self.store.records(RESPONSES)
        self.ui.step("judge", f"LLM judge {self.options.judge} grading describe answers")
        self._run_async(judge.judge_run(self.backend, self.options.judge, records, self.scenario.rule.word,
                                    self.scenario.rule.unit, self.store, concurrency=self.options.concurrency,
                                    seed=self.settings.seed, rpm=self.options.rpm))
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
    summary = report.summarize(scenario, records, meta)
    report.write_reports(store.dir, summary, records, scenario)
    return summary


def spent_of(state: dict, records: list[dict], judged: list[dict] = ()) -> float:
    """Estimated spend so far: training (from the job's trained tokens) plus every answer's
    and every judge verdict's usage priced by our table. Unknown prices count as 0 here:
    the plan refused them unless --allow-unpriced was given."""
    total = state.get("training_cost") or 0.0
    for r in list(records) + [dict(j, model=j.get("judge_model", "")) for j in judged]:
        cost = pricing.inference_cost(r.get("prompt_tokens", 0), r.get("completion_tokens", 0), r["model"])
        total += cost or 0.0
    return total
