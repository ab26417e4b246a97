"""The pipeline as resumable steps: prepare -> upload -> train -> probe -> judge -> report.

Every step looks at the run's state first and does only what is missing, so `harness
resume` is the same code as `harness run`: no second upload, no second job, no sample
asked twice. It keeps which samples are answered, never the answers: those are streamed from
disk where a step needs them, so memory does not grow with the number of samples."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from backends import base
from harness import crash
from harness.calls import boundary, probing
from harness.calls.budget import Ledger, Pricer, spent_of
from harness.calls.concurrency import run_bounded
from harness.domain.reading import naming_in
from harness.domain.scenario import Scenario
from harness.errors import RunError
from harness.reports.write import render_run
from harness.running import stopping
from harness.running.lifecycle import Run
from harness.running.plan import probe_prompt_tokens
from harness.running.training import Trainer
from harness.running.ui import RunUI
from harness.store.records import Key, ResponseRecord
from harness.store.run_dir import RESPONSES
from harness.store.run_files import RunStatus, Settings
from harness.store.summary import Summary


class RunEnded(RunError):
    """The run stopped with a status other than "failed": "incomplete" when `harness resume`
    can finish it (budget reached, samples that failed transiently). `summary` is set when
    the reports were written before it ended."""

    def __init__(self, message: str, status: RunStatus, summary: Summary | None = None):
        super().__init__(message)
        self.status = status
        self.summary = summary
        self.run_dir: Path | None = None  # where the reports were written


def free_describe(scenario: Scenario) -> set[str]:
    return {p.id for p in scenario.probes if p.kind == "describe" and p.style == "free"}


def cross_check_applies(scenario: Scenario, settings: Settings) -> bool:
    """Reading off is measured on fine-tuned (or sham) answers to free describe probes."""
    return bool(free_describe(scenario)) and bool(set(settings.conditions) & {"fine_tuned", "sham"})


class Pipeline:
    def __init__(self, run: Run, backend: base.Backend, ui: RunUI, sleep: Callable[[float], None] = time.sleep):
        self.run = run
        self.store = run.store
        self.state = run.state
        self.settings = run.settings
        self.scenario = run.scenario
        self.backend = backend
        self.ui = ui
        self.sleep = sleep
        # A provider that keeps failing is visible, not silent; its words as one clean line.
        backend.on_retry = lambda message: ui.retry(boundary.clean_line(message))
        self.ledger: Ledger | None = None
        self.pricer = Pricer.of(backend)  # the backend's own prices, never another provider's
        answers = self.store.answers()
        if answers.torn:
            ui.warn(f"dropped {answers.torn} torn record(s) in {RESPONSES}; they will be asked again")
        # The keys answered and the failed records (no text): never the answers themselves.
        self.answered: set[Key] = answers.ok_keys()
        self.failed: dict[Key, ResponseRecord] = {r.key: r for r in answers.failed_records()}
        # The other records are read when their step comes; a damaged line is found now.
        self.store.events(), self.store.verdicts(), self.store.cross_predictions(), self.store.logprobs()

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
                self.train()
            self.probe()
            if self.run.options.judge:
                self.judge()
            self.cross_check()
            self.logprobs()
            self._notice_simulated()
            ended = self._unanswered()
            if ended:  # saved first, so the reports written next say how the run ended
                self.end(ended.status, str(ended))
            summary = self.report()
        except RunError as e:
            cancelled = any(j.job_status == base.CANCELLED for j in self.state.jobs)
            status = e.status if isinstance(e, RunEnded) else RunStatus.CANCELLED if cancelled else RunStatus.FAILED
            self.end(status, str(e))
            raise
        except (base.CassetteMiss, base.BackendError) as e:
            # The provider refused or stayed unreachable after retries: the run stops here,
            # and its state says why (`harness resume` tries again). An account's limit that
            # resets (a daily cap) leaves the run incomplete, not failed.
            message = boundary.clean_line(str(e))
            if isinstance(e, base.AccountError):
                message += f" (`harness resume {self.store.dir}`)"
            message = stopping.with_still_running(message, self.state.jobs, self.store.dir)
            later = isinstance(e, base.AccountError) and e.resume_later
            self.end(RunStatus.INCOMPLETE if later else RunStatus.FAILED, message)
            raise RunError(message) from None
        if ended:
            ended.summary, ended.run_dir = summary, self.store.dir
            raise ended
        self.end(RunStatus.SUCCEEDED, None)
        return summary

    def _unanswered(self) -> RunEnded | None:
        """A run with failed samples did not succeed, although its reports are written:
        "failed" when asking again cannot help (a non-retryable error such as a 404 for a
        mistyped model, or every sample of a condition failed), else "incomplete"."""
        if not (failed := list(self.failed.values())):
            return None
        first = failed[0]
        permanent = [r for r in failed if r.retryable is False]
        dead = [
            c
            for c in self.settings.conditions
            if sum(r.condition == c for r in failed)
            == self.settings.samples * len(self.scenario.probes) * self.settings.replicates_of(c)
        ]
        if permanent or dead:
            first = permanent[0] if permanent else first
            why = (
                f"every sample of {', '.join(dead)} failed"
                if dead
                else f"{len(permanent)} sample(s) failed with an error that asking again will not fix"
            )
            return RunEnded(
                f"run failed: {why} ({len(failed)} failed in all; first: {first.error}); "
                "the report counts them as failed",
                RunStatus.FAILED,
            )
        return RunEnded(
            f"run incomplete: {len(failed)} sample(s) failed after retries (first: {first.error}); "
            f"`harness resume {self.store.dir}` asks them again",
            RunStatus.INCOMPLETE,
        )

    # -- training ----------------------------------------------------------------------
    def train(self) -> None:
        Trainer(self.run, self.backend, self.ui, self.save, self.sleep, self.pricer)()

    # -- probing -----------------------------------------------------------------------
    def model_for(self, condition: str, replicate: int) -> str:
        if condition in ("fine_tuned", "sham"):
            model = self.state.model_of(condition, replicate)
            assert model is not None, f"{condition} replicate {replicate} has no model yet"
            return model
        return self.settings.base_model

    def probe(self) -> None:
        s = self.settings
        todo = [
            t
            for t in probing.tasks_for(self.scenario, list(s.conditions), s.samples, s.seed, s.replicates_of)
            if t.key not in self.answered
        ]
        total = s.total_samples * len(self.scenario.probes)
        answered = total - len(todo)
        self.ui.step("probe", f"{total} samples" + (f", {answered} already done" if answered else ""))
        ledger = self._ledger()

        async def ask(task: probing.Task) -> None:
            model = self.model_for(task.condition, task.replicate)
            record = await probing.ask(
                self.backend, self.scenario, self.run.examples, task, model, self.settings.temperature, ledger
            )
            if record is None:  # refused by the budget: not started, a resume asks it
                return
            crash.maybe_crash("probing")
            self.store.append(RESPONSES, record)
            if record.ok:
                self.answered.add(record.key)
                self.failed.pop(record.key, None)
            elif record.key not in self.answered:
                self.failed[record.key] = record
            self._notice_simulated()
            self.ui.advance(record)

        o = self.run.options
        self._record_model_info({self.model_for(t.condition, t.replicate) for t in todo})
        self.ui.progress_start(total, answered)
        started = time.monotonic()
        try:
            self._run_async(
                run_bounded(
                    todo,
                    ask,
                    concurrency=o.concurrency,
                    rpm=o.rpm,
                    tpm=o.tpm,
                    tokens_per_request=self._tokens_per_request(),
                    should_stop=lambda: ledger.refused is not None,
                )
            )
        finally:
            self.ui.progress_stop()
            self.state.probe_seconds += time.monotonic() - started  # a local run's cost is its time
            self.save()
        if ledger.refused:
            raise RunEnded(
                f"stopped probing: {ledger.refused}; `harness resume --max-cost USD` continues with a higher cap",
                RunStatus.INCOMPLETE,
            )
        # One canonical file: the same bytes whatever order the answers arrived in.
        self.store.rewrite_answers()
        self.done("probe")

    def _tokens_per_request(self) -> int:
        """What a provider's tokens-per-minute limit counts for one probe: its prompt (the
        largest, in_context, if probed) plus max_tokens."""
        s = self.settings
        prompt = max(max(probe_prompt_tokens(self.scenario, self.run.examples, c, s.base_model)) for c in s.conditions)
        return prompt + self.scenario.eval.max_tokens

    def _record_model_info(self, models: set[str]) -> None:
        """What the backend says about each model beyond its id (device, the weights' source
        and hash), once per model, for the report."""
        for model in sorted(models - set(self.state.model_info)):
            info = self.backend.model_info(model)
            if info:
                self.state.model_info[model] = dict(info)
        self.save()

    def _ledger(self) -> Ledger:
        """One ledger for the probe and judge steps, starting from what the run's files say
        was spent already (training, answers and verdicts of earlier attempts)."""
        if self.ledger is None:

            def paid() -> bool:
                return not self.backend.simulated

            spent = (
                spent_of(
                    self.state,
                    self.store.answers(),
                    self.pricer,
                    self.store.verdicts()[0],
                    self.store.cross_predictions()[0],
                )
                if paid()
                else 0.0
            )
            self.ledger = Ledger(self.run.options.max_cost, self.pricer, spent, paid, on_lost=self._lost)
        return self.ledger

    def _lost(self, usd: float) -> None:
        """A call that failed after it was sent was charged at its reservation: keep it."""
        self.state.lost_calls_cost += usd
        self.save()

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
        from harness.calls.judging import judge_run

        judge = self.run.options.judge
        assert judge is not None
        self.ui.step("judge", f"LLM judge {judge} grading describe answers")
        ledger = self._ledger()
        rule = self.scenario.rule
        self._run_async(
            judge_run(
                self.backend,
                judge,
                [r for r in self.store.answers() if r.ok and r.kind == "describe"],
                rule.word,
                rule.unit,
                self.store,
                concurrency=self.run.options.concurrency,
                seed=self.settings.seed,
                rpm=self.run.options.rpm,
                ledger=ledger,
            )
        )
        if ledger.refused:
            raise RunEnded(
                f"stopped judging: {ledger.refused}; `harness resume --max-cost USD` continues with a higher cap",
                RunStatus.INCOMPLETE,
            )
        self.done("judge")

    def cross_check(self) -> None:
        """Ask the base model to name the word from the start of each fine-tuned answer that
        named it (reading off, measured by cross-prediction; resumable like the judge)."""
        from harness.calls.crosscheck import cross_check

        if not cross_check_applies(self.scenario, self.settings):
            return
        free, rule = free_describe(self.scenario), self.scenario.rule
        self.ui.step("cross-check", f"{self.settings.base_model} names the word from each answer's start")
        ledger = self._ledger()
        w, u = rule.word, rule.unit  # only the answers that name the word (those cross-checked) are held
        named = [r for r in self.store.answers() if r.ok and r.probe in free and naming_in(r.text or "", w, u)]
        self._run_async(
            cross_check(
                self.backend,
                self.settings.base_model,
                named,
                rule.word,
                rule.unit,
                self.store,
                free=free,
                concurrency=self.run.options.concurrency,
                seed=self.settings.seed,
                rpm=self.run.options.rpm,
                ledger=ledger,
            )
        )
        if ledger.refused:
            raise RunEnded(
                f"stopped cross-checking: {ledger.refused}; `harness resume --max-cost USD` "
                "continues with a higher cap",
                RunStatus.INCOMPLETE,
            )
        self.done("cross_check")

    def logprobs(self) -> None:
        """Score word and choice probes by log-probability where the backend can; record that
        it could not otherwise, so the report says so instead of leaving a blank."""
        from backends.base import LOGPROBS
        from harness.calls.logprobs import has_scored_probes, score_logprobs

        if not has_scored_probes(list(self.scenario.probes)) or self.state.steps.get("logprobs") == "done":
            return
        if LOGPROBS not in self.backend.capabilities:
            if self.state.steps.get("logprobs") != "skipped":
                self.state.steps["logprobs"] = "skipped"
                self.save()
            return
        s = self.settings
        models: dict[tuple[str, int], str] = {
            (c, r): self.model_for(c, r) for c in s.conditions for r in range(s.replicates_of(c))
        }
        self.ui.step("logprobs", "log-probabilities of the word and of each option")
        self._run_async(
            score_logprobs(
                self.backend,
                self.scenario,
                self.run.examples,
                models,
                self.store,
                concurrency=self.run.options.concurrency,
            )
        )
        self.done("logprobs")

    def report(self) -> Summary:
        return render_run(
            self.store,
            self.run.manifest,
            self.state,
            self.store.answers(),
            self.store.verdicts()[0],
            self.store.cross_predictions()[0],
            self.store.logprobs()[0],
        )
