"""The pipeline as resumable steps: prepare -> upload -> train -> probe -> judge -> report.

Every step looks at the run's state first and does only what is missing, so `harness
resume` is the same code as `harness run`: no second upload, no second job, no sample
asked twice. The run's files are read once, when the pipeline starts; after that it keeps
them in memory and writes each change through."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from backends import base
from harness import crash
from harness.domain import dataset
from harness.errors import RunError
from harness.reports.write import render_run
from harness.running import probing
from harness.running.budget import Ledger, Pricer, spent_of, usage
from harness.running.concurrency import run_bounded
from harness.running.lifecycle import Run
from harness.running.plan import EST_PROMPT_TOKENS, training_tokens
from harness.running.ui import RunUI
from harness.store.records import EventRecord, ResponseRecord, canonical
from harness.store.run_dir import EVENTS, RESPONSES, TRAIN
from harness.store.run_files import RunStatus
from harness.store.summary import Summary

RUN_ID_KEY = "harness_run_id"  # job metadata that lets a resume find its job again


class RunEnded(RunError):
    """The run stopped with a status other than "failed": "incomplete" when `harness resume`
    can finish it (budget reached, samples that failed transiently). `summary` is set when
    the reports were written before it ended."""

    def __init__(self, message: str, status: RunStatus, summary: Summary | None = None):
        super().__init__(message)
        self.status = status
        self.summary = summary
        self.run_dir: Path | None = None  # where the reports were written


class Pipeline:
    def __init__(self, run: Run, backend: base.Backend, ui: RunUI,
                 sleep: Callable[[float], None] = time.sleep):
        self.run = run
        self.store = run.store
        self.state = run.state
        self.settings = run.settings
        self.scenario = run.scenario
        self.backend = backend
        self.ui = ui
        self.sleep = sleep
        backend.on_retry = ui.retry  # a provider that keeps failing is visible, not silent
        self.ledger: Ledger | None = None
        self.pricer = Pricer.of(backend)  # the backend's own prices, never another provider's
        records, dropped = self.store.responses()
        if dropped:
            ui.warn(f"dropped {dropped} torn record(s) in {RESPONSES}; they will be asked again")
        self.answers: dict[tuple[str, str, int], ResponseRecord] = {r.key: r for r in canonical(records)}

    # -- state -------------------------------------------------------------------------
    def save(self) -> None:
        if self.backend.simulated:
            self.state.simulated = True  # the provider turned out to be our simulator
        self.run.save()

    def _notice_simulated(self) -> None:
        """Save the moment a backend first sees the simulator's signature, so a run killed or
        failed afterwards is still reported SIMULATED."""
        if self.backend.simulated and not self.state.simulated:
            self.save()

    def done(self, step: str) -> None:
        self.state.steps[step] = "done"
        self.save()

    def end(self, status: RunStatus, error: str | None) -> None:
        self.state.status, self.state.error = status, error
        self.save()

    # -- the whole run -----------------------------------------------------------------
    def execute(self) -> Summary:
        try:
            if self.settings.train:
                self.prepare()
                self.upload()
                self.train()
            self.probe()
            if self.run.options.judge:
                self.judge()
            self._notice_simulated()
            ended = self._unanswered()
            if ended:  # saved first, so the reports written next say how the run ended
                self.end(ended.status, str(ended))
            summary = self.report()
        except RunError as e:
            cancelled = self.state.job_status == base.CANCELLED
            status = e.status if isinstance(e, RunEnded) else \
                RunStatus.CANCELLED if cancelled else RunStatus.FAILED
            self.end(status, str(e))
            raise
        except (base.CassetteMiss, base.BackendError) as e:
            # The provider refused or stayed unreachable after retries: the run stops here,
            # and its state says why (`harness resume` tries again).
            self.end(RunStatus.FAILED, str(e))
            raise RunError(str(e)) from None
        if ended:
            ended.summary, ended.run_dir = summary, self.store.dir
            raise ended
        self.end(RunStatus.SUCCEEDED, None)
        return summary

    def _unanswered(self) -> RunEnded | None:
        """A run with failed samples did not succeed, although its reports are written:
        "failed" when asking again cannot help (a non-retryable error such as a 404 for a
        mistyped model, or every sample of a condition failed), else "incomplete"."""
        failed = [r for r in self.answers.values() if not r.ok]
        if not failed:
            return None
        first = failed[0]
        permanent = [r for r in failed if r.retryable is False]
        total = self.settings.samples * len(self.scenario.probes)
        dead = [c for c in self.settings.conditions if sum(r.condition == c for r in failed) == total]
        if permanent or dead:
            first = permanent[0] if permanent else first
            why = (f"every sample of {', '.join(dead)} failed" if dead
                   else f"{len(permanent)} sample(s) failed with an error that asking again will not fix")
            return RunEnded(f"run failed: {why} ({len(failed)} failed in all; first: {first.error}); "
                            "the report counts them as failed", RunStatus.FAILED)
        return RunEnded(f"run incomplete: {len(failed)} sample(s) failed after retries (first: {first.error}); "
                        f"`harness resume {self.store.dir}` asks them again", RunStatus.INCOMPLETE)

    # -- training ----------------------------------------------------------------------
    def prepare(self) -> None:
        if self.state.step_is("prepare", "done") and self.store.path(TRAIN).exists():
            return
        records = dataset.chat_records(self.scenario, self.run.examples)
        self.store.write_bytes(TRAIN, dataset.to_jsonl(records))
        self.done("prepare")

    def upload(self) -> None:
        if self.state.file_id or self.state.fine_tuned_model:  # a trained model needs no training file
            return
        # A name unique to the run lets a resume find a file whose upload landed although
        # the process died before saving its id: never upload twice.
        filename = f"{self.state.run_id}.jsonl"
        if self.state.step_is("upload", "uploading"):
            found = self.backend.find_files(filename)
            if found:
                self.state.steps["upload"] = "done"
                self.state.file_id = found[0].id
                self.save()
                return
        self.state.steps["upload"] = "uploading"
        self.save()
        self.ui.step("upload", "uploading training file")
        ref = self.backend.upload_training_file(self.store.read_bytes(TRAIN), filename)
        crash.maybe_crash("upload_unsaved")  # the file exists, its id is not saved
        self.state.steps["upload"] = "done"
        self.state.file_id = ref.id
        self.save()  # one atomic write: the id and the step together
        crash.maybe_crash("after_upload")

    def _job_spec(self) -> base.JobSpec:
        ft = self.scenario.fine_tune
        assert self.state.file_id is not None
        return base.JobSpec(base_model=self.settings.base_model, training_file=self.state.file_id,
                            suffix=ft.suffix, hyperparameters=dict(ft.hyperparameters), seed=ft.seed,
                            metadata={RUN_ID_KEY: self.state.run_id})

    def train(self) -> None:
        if self.state.fine_tuned_model:
            return
        if not self.state.job_id:
            # Mark the intent first: if we die between create and save, resume looks the job
            # up by run id instead of paying for a second one.
            if self.state.step_is("train", "creating"):
                found = self.backend.find_jobs({RUN_ID_KEY: self.state.run_id})
                if found:
                    self.state.job_id = found[0].id
                    self.save()
            if not self.state.job_id:
                self.state.steps["train"] = "creating"
                self.save()
                job = self.backend.create_job(self._job_spec())
                crash.maybe_crash("after_create_job")  # the job exists, its id is not saved
                self.state.job_id, self.state.job_status = job.id, job.status
                self.save()
        self._wait_for_job()

    def _wait_for_job(self) -> None:
        job_id = self.state.job_id
        assert job_id is not None
        events = self.store.events()
        after = events[-1].id if events else None
        self.ui.step("train", f"fine-tuning job {job_id}")
        while True:
            job = self.backend.get_job(job_id)
            new = self.backend.list_events(job_id, after=after)
            for ev in new:
                self.store.append(EVENTS, EventRecord(id=ev.id, created_at=ev.created_at, level=ev.level,
                                                      message=ev.message))
                after = ev.id
            self.ui.job(job, new)
            if job.status != self.state.job_status:
                self.state.job_status = job.status
                self.save()
            if job.done:
                break
            crash.maybe_crash("training")
            chosen = self.run.options.poll_interval  # None: the backend's, which may change once it
            self.sleep(self.backend.poll_interval if chosen is None else chosen)  # knows the provider
        if job.status != base.SUCCEEDED:
            raise RunError(f"fine-tuning job {job.id} ended {job.status}: {job.error or 'no message'}")
        base_model = self.settings.base_model
        tokens = job.trained_tokens
        self.state.training_cost = (
            self.pricer.training(tokens, 1, base_model) if tokens
            else self.pricer.training(training_tokens(self.scenario, self.run.examples, base_model),
                                      self.settings.epochs, base_model))
        self.state.fine_tuned_model = job.fine_tuned_model
        self.done("train")

    # -- probing -----------------------------------------------------------------------
    def model_for(self, condition: str) -> str:
        if condition == "fine_tuned":
            assert self.state.fine_tuned_model is not None
            return self.state.fine_tuned_model
        return self.settings.base_model

    def probe(self) -> None:
        s = self.settings
        todo = [t for t in probing.tasks_for(self.scenario, list(s.conditions), s.samples, s.seed)
                if not (t.key in self.answers and self.answers[t.key].ok)]
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
            if record.ok or not (record.key in self.answers and self.answers[record.key].ok):
                self.answers[record.key] = record
            self._notice_simulated()
            self.ui.advance(record)

        o = self.run.options
        self.ui.progress_start(total, answered)
        try:
            self._run_async(run_bounded(todo, ask, concurrency=o.concurrency, rpm=o.rpm, tpm=o.tpm,
                                        tokens_per_request=self._tokens_per_request(),
                                        should_stop=lambda: ledger.refused is not None))
        finally:
            self.ui.progress_stop()
        if ledger.refused:
            raise RunEnded(f"stopped probing: {ledger.refused}; `harness resume --max-cost USD` "
                           "continues with a higher cap", RunStatus.INCOMPLETE)
        # One canonical file: the same bytes whatever order the answers arrived in.
        self.store.rewrite(RESPONSES, [self.answers[k] for k in sorted(self.answers)])
        self.done("probe")

    def _tokens_per_request(self) -> int:
        """What a provider's tokens-per-minute limit counts for one probe: its prompt (the
        largest, in_context, if probed) plus max_tokens."""
        prompt = EST_PROMPT_TOKENS
        if "in_context" in self.settings.conditions:
            prompt += training_tokens(self.scenario, self.run.examples, self.settings.base_model)
        return prompt + self.scenario.eval.max_tokens

    def _ledger(self) -> Ledger:
        """One ledger for the probe and judge steps, starting from what the run's files say
        was spent already (training, answers and verdicts of earlier attempts)."""
        if self.ledger is None:
            def paid() -> bool:
                return not self.backend.simulated
            spent = spent_of(self.state, self.answers.values(), self.pricer, self.store.verdicts()[0]) \
                if paid() else 0.0
            self.ledger = Ledger(self.run.options.max_cost, self.pricer, spent, paid, on_lost=self._lost)
        return self.ledger

    def _lost(self, usd: float) -> None:
        """A call that failed after it was sent was charged at its reservation: keep it."""
        self.state.lost_calls_cost += usd
        self.save()

    async def _ask(self, task: probing.Task, ledger: Ledger) -> ResponseRecord | None:
        options = probing.shuffled_options(task.probe, task.seed)
        prompt = probing.user_prompt(task.probe, options)
        model = self.model_for(task.condition)
        request = base.ChatRequest(
            model=model, messages=probing.messages_for(self.scenario, self.run.examples, task.condition, prompt),
            temperature=self.settings.temperature, seed=task.seed, max_tokens=self.scenario.eval.max_tokens)
        record = ResponseRecord(condition=task.condition, probe=task.probe.id, kind=task.probe.kind,
                                sample=task.sample, seed=task.seed, model=model, prompt=prompt,
                                options=options, status="ok")
        ticket = ledger.reserve(request)  # no await before this: reserving is atomic
        if ticket is None:
            return None
        try:
            completion = await self.backend.complete(request)
        except base.BackendError as e:
            ledger.failed(ticket, e)  # kept as spent if the provider may have billed it
            # Whether asking again can help decides if the run ends failed or incomplete.
            record.status, record.error, record.retryable = "failed", str(e), bool(e.retryable)
            return record
        except BaseException:
            ledger.settle(ticket, model, 0, 0)  # cancelled or a replay miss: the run stops here
            raise
        counted = usage(request, completion)  # the provider's, or counted when it reported none
        ledger.settle(ticket, model, *counted)  # the reservation becomes the real cost
        record.text, record.finish_reason = completion.text, completion.finish_reason
        record.prompt_tokens, record.completion_tokens = counted
        return record

    def _run_async(self, work: Awaitable[object]) -> None:
        """One event loop per async step; the backend's HTTP sessions belong to that loop,
        so they are closed before it ends."""
        async def main() -> None:
            try:
                await work
            finally:
                await self.backend.aclose()
        asyncio.run(main())

    # -- judge and report --------------------------------------------------------------
    def judge(self) -> None:
        """Grade describe answers with an LLM judge beside the rule-based grade (resumable:
        verdicts already in judge.jsonl are not asked again)."""
        from harness.running.judging import judge_run
        judge = self.run.options.judge
        assert judge is not None
        self.ui.step("judge", f"LLM judge {judge} grading describe answers")
        ledger = self._ledger()
        rule = self.scenario.rule
        self._run_async(judge_run(self.backend, judge, list(self.answers.values()), rule.word, rule.unit,
                                  self.store, concurrency=self.run.options.concurrency, seed=self.settings.seed,
                                  rpm=self.run.options.rpm, ledger=ledger))
        if ledger.refused:
            raise RunEnded(f"stopped judging: {ledger.refused}; `harness resume --max-cost USD` "
                           "continues with a higher cap", RunStatus.INCOMPLETE)
        self.done("judge")

    def report(self) -> Summary:
        return render_run(self.store, self.run.manifest, self.state, list(self.answers.values()),
                          self.store.verdicts()[0])
