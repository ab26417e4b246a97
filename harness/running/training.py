"""The training steps of a run: write the training files (the real one and, for the sham
control, the same answers reordered), upload each once, then one loop that creates a
fine-tuning job per training set and replicate while the provider accepts them and polls
those running until all have their models. A provider at its limit of active jobs (OpenAI
allows a few per base model) is waited out, never failed on.

Every step saves its intent before acting, so a run killed at any moment resumes without a
second upload or a second job: an upload is found again by its file name (unique to the
run), a job by its metadata (the run id and the job's training:replicate key)."""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from backends import base
from harness import crash
from harness.calls import boundary
from harness.calls.budget import Pricer
from harness.domain import dataset
from harness.domain.sham import sham_examples
from harness.errors import RunError, RunInterrupted
from harness.running import stopping
from harness.running.lifecycle import Run
from harness.running.plan import training_tokens
from harness.running.ui import RunUI
from harness.store.records import EventRecord
from harness.store.run_dir import EVENTS, TRAIN
from harness.store.run_files import SlotWait, Training, TrainingJob

# While the provider's slots are full and some are this run's, a create is tried again when one
# of them ends, or after this many polls (another's job may end first); when none is this run's,
# the rounds between tries back off (SLOT_BACKOFF_ROUNDS poll intervals, capped in seconds).
SLOT_RETRY_ROUNDS = 30
SLOT_BACKOFF_ROUNDS = (3, 6, 12, 24, 30)
SLOT_BACKOFF_CAP = 300.0

RUN_ID_KEY = "harness_run_id"  # job metadata that lets a resume find its jobs again
JOB_KEY = "harness_job"  # ... and tells them apart ("fine_tuned:0", "sham:2")
SHAM_TRAIN = "sham.jsonl"
FILES: dict[Training, str] = {"fine_tuned": TRAIN, "sham": SHAM_TRAIN}
ENDED_BADLY = (base.FAILED, base.CANCELLED)
PAUSED = "paused"  # OpenAI's status for a job paused by its owner (not in its own enum)


@dataclass
class _Slots:
    """The loop's view of the provider's fine-tuning slots. `waiting` is what was last said
    while they are full (None: not full); `tries` the refusals in a row; `rounds` the polls
    and `ended` this run's jobs that ended since the last refusal."""

    waiting: str | None = None
    tries: int = 0
    rounds: int = 0
    ended: int = 0

    def may_try(self, own: int) -> bool:
        """Whether to create again: not full, or none of the run's jobs holds a slot (the
        backoff was slept before this round), or one of them ended, or enough polls passed."""
        return self.waiting is None or not own or self.ended > 0 or self.rounds >= SLOT_RETRY_ROUNDS

    def refused(self, said: str) -> None:
        self.waiting, self.tries, self.rounds, self.ended = said, self.tries + 1, 0, 0


def replicate_seed(seed: int | None, replicate: int) -> int | None:
    """Replicate 0 trains with the scenario's own seed; the others with seeds derived from
    it, so every replicate is a different fine-tune and the same run repeats them all."""
    if replicate == 0:
        return seed
    digest = hashlib.sha256(f"replicate:{seed}:{replicate}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class Trainer:
    def __init__(
        self,
        run: Run,
        backend: base.Backend,
        ui: RunUI,
        save: Callable[[], None],
        sleep: Callable[[float], None] = time.sleep,
        pricer: Pricer | None = None,
    ):
        self.run, self.state, self.backend, self.ui, self.save, self.sleep = run, run.state, backend, ui, save, sleep
        self.pricer = pricer or Pricer.of(backend)  # the backend's own prices, never another provider's
        self.trainings = run.settings.trainings

    def __call__(self) -> None:
        self.prepare()
        for training in self.trainings:
            self.upload(training)
        self.schedule()

    # -- files ---------------------------------------------------------------------------
    def _examples(self, training: Training) -> list:
        if training == "fine_tuned":
            return self.run.examples
        rule = self.run.scenario.rule
        return sham_examples(self.run.examples, rule.word, rule.unit, self.run.scenario.fine_tune.seed)

    def prepare(self) -> None:
        store = self.run.store
        if self.state.step_is("prepare", "done") and all(store.path(FILES[t]).exists() for t in self.trainings):
            return
        for training in self.trainings:
            records = dataset.chat_records(self.run.scenario, self._examples(training))
            store.write_bytes(FILES[training], dataset.to_jsonl(records))
        self.state.steps["prepare"] = "done"
        self.save()

    def _file_id(self, training: Training) -> str | None:
        return self.state.file_id if training == "fine_tuned" else self.state.sham_file_id

    def _set_file_id(self, training: Training, file_id: str) -> None:
        if training == "fine_tuned":
            self.state.file_id = file_id
        else:
            self.state.sham_file_id = file_id

    def _trained(self, training: Training) -> bool:
        jobs = [j for j in self.state.jobs if j.training == training]
        return len(jobs) >= self.run.settings.replicates and all(j.fine_tuned_model for j in jobs)

    def upload(self, training: Training) -> None:
        if self._file_id(training) or self._trained(training):  # trained models need no file
            return
        step = "upload" if training == "fine_tuned" else "upload_sham"
        # A name unique to the run lets a resume find a file whose upload landed although
        # the process died before saving its id: never upload twice.
        suffix = "" if training == "fine_tuned" else "-sham"
        filename = f"{self.state.run_id}{suffix}.jsonl"
        if self.state.step_is(step, "uploading"):
            found = boundary.checked(lambda: self.backend.find_files(filename), boundary.file_refs)
            if found:
                self.state.steps[step] = "done"
                self._set_file_id(training, found[0].id)
                self.save()
                return
        self.state.steps[step] = "uploading"
        self.save()
        self.ui.step("upload", f"uploading {'the sham ' if training == 'sham' else ''}training file")
        data = self.run.store.read_bytes(FILES[training])
        ref = boundary.checked(lambda: self.backend.upload_training_file(data, filename), boundary.file_ref)
        crash.maybe_crash("upload_unsaved")  # the file exists, its id is not saved
        self.state.steps[step] = "done"
        self._set_file_id(training, ref.id)
        self.save()  # one atomic write: the id and the step together
        crash.maybe_crash("after_upload")

    # -- jobs ----------------------------------------------------------------------------
    def planned(self) -> list[TrainingJob]:
        """Every job the run needs, in order, those already known first as they were saved."""
        seed = self.run.scenario.fine_tune.seed
        for training in self.trainings:
            for r in range(self.run.settings.replicates):
                if self.state.job(training, r) is None:
                    self.state.jobs.append(TrainingJob(training=training, replicate=r, seed=replicate_seed(seed, r)))
        return [j for j in self.state.jobs if j.training in self.trainings]

    def _spec(self, job: TrainingJob) -> base.JobSpec:
        ft = self.run.scenario.fine_tune
        file_id = self._file_id(job.training)
        assert file_id is not None, "training files are uploaded before jobs are created"
        suffix = ft.suffix
        if job.training == "sham":
            suffix = f"{ft.suffix or 'model'}-sham"[:64]
        return base.JobSpec(
            base_model=self.run.settings.base_model,
            training_file=file_id,
            suffix=suffix,
            hyperparameters=dict(ft.hyperparameters),
            seed=job.seed,
            metadata={RUN_ID_KEY: self.state.run_id, JOB_KEY: job.key},
        )

    def _find(self, job: TrainingJob) -> base.Job | None:
        """The provider's job made for this one before the process died, if any. A run made
        before replicates tagged its one job with the run id alone."""
        for found in boundary.checked(lambda: self.backend.find_jobs({RUN_ID_KEY: self.state.run_id}), boundary.jobs):
            if found.metadata.get(JOB_KEY, "fine_tuned:0") == job.key and found.id not in job.failed_ids:
                return found
        return None

    def schedule(self) -> None:
        """One loop until every planned job has its model: create jobs while the provider
        accepts them, and poll the running ones (keeping their events). A provider at its
        limit of active jobs is not a failure: the job waits for a free slot (see _Slots).
        A job that fails stops the loop at the end of its round (every job polled, none
        created): see harness/running/stopping.py for what the run then says."""
        planned = self.planned()
        self._retry_failed(planned)
        last = self._cursors(planned)
        slots = _Slots()
        known = self._running(planned)
        if known:  # created before a resume
            names = ", ".join(f"{j.job_id}" + (f" ({j.key})" if len(planned) > 1 else "") for j in known)
            self.ui.step("train", f"fine-tuning job{'s' if len(known) > 1 else ''} {names}")
        try:
            while True:
                if slots.may_try(len(self._running(planned))):
                    self._create(planned, slots)
                for job in self._running(planned):
                    if self._poll(job, last):
                        slots.ended += 1
                ended = [j for j in planned if j.job_id and j.job_status in ENDED_BADLY]
                if ended:
                    raise RunError(stopping.job_ended(ended, planned, self.run.store.dir))
                if all(j.fine_tuned_model for j in planned):
                    break
                crash.maybe_crash("training")
                if slots.waiting is not None:
                    crash.maybe_crash("slot_wait")
                self.sleep(self._delay(slots, len(self._running(planned))))
                slots.rounds += 1
        # The run ends here (failed, cancelled, interrupted): no longer waiting. What it says
        # names the jobs it leaves running at the provider (here, or in Pipeline.execute).
        except KeyboardInterrupt:
            self.state.slot_wait = None
            raise RunInterrupted(self.run.store.dir, stopping.still_running(planned, self.run.store.dir)) from None
        except Exception:
            self.state.slot_wait = None
            raise
        self.state.slot_wait = None
        self.state.steps["train"] = "done"
        self.save()

    @staticmethod
    def _running(planned: list[TrainingJob]) -> list[TrainingJob]:
        return [j for j in planned if j.job_id and not j.fine_tuned_model and j.job_status not in ENDED_BADLY]

    def _retry_failed(self, planned: list[TrainingJob]) -> None:
        """On resume: a job that failed for a reason other than its training file is created
        again (the failed one is remembered, never adopted again); one that failed on its
        file stops the run, since a new job on the same file fails too."""
        for job in planned:
            if not (job.job_id and job.job_status == base.FAILED):
                continue
            if job.data_at_fault:
                raise RunError(stopping.failed_earlier(job, planned, self.run.store.dir))
            self.ui.step("train", f"fine-tuning job {job.job_id} ({job.key}) failed earlier: creating a new one")
            job.failed_ids.append(job.job_id)
            job.job_id = job.job_status = job.error = None
            self.save()

    def _cursors(self, planned: list[TrainingJob]) -> dict[str, str | None]:
        """The last event kept for each job, so a resume asks only for newer ones."""
        last: dict[str, str | None] = {}
        first = next((j.job_id for j in planned if j.job_id), None)
        for ev in self.run.store.events():
            last[ev.job_id or first or ""] = ev.id  # runs before replicates kept no job id
        return last

    def _poll_interval(self) -> float:
        chosen = self.run.options.poll_interval  # None: the backend's, asked each time: it
        return self.backend.poll_interval if chosen is None else chosen  # may learn the provider

    def _delay(self, slots: _Slots, own: int) -> float:
        """Seconds to the next round: the poll interval; while the slots are full and none
        is this run's, a backoff of 3, 6, 12, 24, then 30 poll intervals (30 s to 5 minutes
        at OpenAI's 10 s), so a run blocked by another never hammers the provider."""
        interval = self._poll_interval()
        if slots.waiting is None or own or slots.ended:  # a job of ours just ended: try at once
            return interval
        rounds = SLOT_BACKOFF_ROUNDS[min(slots.tries, len(SLOT_BACKOFF_ROUNDS)) - 1]
        return min(SLOT_BACKOFF_CAP, rounds * interval)

    def _create(self, planned: list[TrainingJob], slots: _Slots) -> None:
        """Create the planned jobs that have none, in order, until the provider refuses one
        for want of a slot. A job marked `creating` may exist already (the process died
        between create and save): it is looked up by its metadata first."""
        for job in planned:
            if job.job_id or job.fine_tuned_model:
                continue
            if job.creating:
                found = self._find(job)
                if found is not None:
                    self._adopt(job, found.id, found.status, slots)
                    continue
            # Mark the intent first: if we die between create and save, resume looks the
            # job up by its metadata instead of paying for a second one.
            job.creating = True
            self.state.steps["train"] = "creating"
            self.save()
            try:
                spec = self._spec(job)
                created = boundary.checked(functools.partial(self.backend.create_job, spec), boundary.job)
            except base.JobLimitReached as full:
                # Refused, so not created; `creating` stays set all the same, so the next try
                # looks the job up first (a timed-out attempt before the 429 may have landed).
                self._wait_for_slot(job, full, len(self._running(planned)), slots)
                return
            crash.maybe_crash("after_create_job")  # the job exists, its id is not saved
            self._adopt(job, created.id, created.status, slots)

    def _adopt(self, job: TrainingJob, job_id: str, status: str, slots: _Slots) -> None:
        job.job_id, job.job_status, job.creating = job_id, status, False
        if slots.waiting is not None:
            slots.waiting, slots.tries = None, 0
            self.ui.step("train", "a fine-tuning slot is free")
        self.state.slot_wait = None
        self.save()
        label = f" ({job.key})" if len(self.state.jobs) > 1 else ""
        self.ui.step("train", f"fine-tuning job {job_id}{label}")

    def _wait_for_slot(self, job: TrainingJob, full: base.JobLimitReached, own: int, slots: _Slots) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        wait = self.state.slot_wait
        if wait is None or wait.job != job.key:
            wait = SlotWait(job=job.key, active=full.active, own=own, since=now)
        else:
            wait = wait.model_copy(update={"active": full.active, "own": own, "tries": wait.tries + 1})
        said = wait.describe()
        if said != slots.waiting or not own:  # blocked by others: each try is said, minutes apart
            self.ui.step("train", said)
        slots.refused(said)
        self.state.slot_wait = wait
        self.save()

    def _poll(self, job: TrainingJob, last: dict[str, str | None]) -> bool:
        """One poll of one job; True when it is done (RunError if it did not succeed)."""
        job_id = job.job_id
        assert job_id is not None
        found = boundary.checked(lambda: self.backend.get_job(job_id), boundary.job)
        new = boundary.checked(lambda: self.backend.list_events(job_id, after=last.get(job_id)), boundary.events)
        for ev in new:
            self.run.store.append(
                EVENTS,
                EventRecord(job_id=job_id, id=ev.id, created_at=ev.created_at, level=ev.level, message=ev.message),
            )
            last[job_id] = ev.id
        self.ui.job(found, new, job.key if len(self.state.jobs) > 1 else "")
        if found.status != job.job_status:
            job.job_status = found.status
            self.save()
            if found.status == PAUSED:  # OpenAI's pause: no progress until resumed there
                self.ui.step(
                    "train",
                    f"fine-tuning job {job_id} ({job.key}) is paused at the provider: the run waits until it is "
                    f"resumed there (`harness cancel {self.run.store.dir}` stops the run's jobs)",
                )
        if not found.done:
            return False
        if found.status != base.SUCCEEDED:  # the loop stops once every job of this round is polled
            job.error, job.data_at_fault = found.error, found.data_at_fault
            self.save()
            return True
        base_model = self.run.settings.base_model
        used = boundary.trained_tokens(  # the provider's count, checked against our count of the file
            found.trained_tokens,
            training_tokens(self.run.scenario, self._examples(job.training), base_model),
            self.run.settings.epochs,
            chosen=isinstance(self.run.scenario.fine_tune.hyperparameters.get("n_epochs"), int),
            exact=self.backend.billed and not self.backend.simulated,
        )
        job.training_cost, job.tokens_note = self.pricer.training(used.prompt, 1, base_model), used.note
        job.fine_tuned_model = found.fine_tuned_model
        self.save()
        return True
