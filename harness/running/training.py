"""The training steps of a run: write the training files (the real one and, for the sham
control, the same answers reordered), upload each once, create one fine-tuning job per
training set and replicate, and wait for all of them.

Every step saves its intent before acting, so a run killed at any moment resumes without a
second upload or a second job: an upload is found again by its file name (unique to the
run), a job by its metadata (the run id and the job's training:replicate key)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from backends import base
from harness import crash
from harness.calls.budget import Pricer
from harness.domain import dataset
from harness.domain.sham import sham_examples
from harness.errors import RunError
from harness.running.lifecycle import Run
from harness.running.plan import training_tokens
from harness.running.ui import RunUI
from harness.store.records import EventRecord
from harness.store.run_dir import EVENTS, TRAIN
from harness.store.run_files import Training, TrainingJob

RUN_ID_KEY = "harness_run_id"  # job metadata that lets a resume find its jobs again
JOB_KEY = "harness_job"  # ... and tells them apart ("fine_tuned:0", "sham:2")
SHAM_TRAIN = "sham.jsonl"
FILES: dict[Training, str] = {"fine_tuned": TRAIN, "sham": SHAM_TRAIN}


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
        self.create_jobs()
        self.wait()

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
            found = self.backend.find_files(filename)
            if found:
                self.state.steps[step] = "done"
                self._set_file_id(training, found[0].id)
                self.save()
                return
        self.state.steps[step] = "uploading"
        self.save()
        self.ui.step("upload", f"uploading {'the sham ' if training == 'sham' else ''}training file")
        ref = self.backend.upload_training_file(self.run.store.read_bytes(FILES[training]), filename)
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
        for found in self.backend.find_jobs({RUN_ID_KEY: self.state.run_id}):
            if found.metadata.get(JOB_KEY, "fine_tuned:0") == job.key:
                return found
        return None

    def create_jobs(self) -> None:
        for job in self.planned():
            if job.job_id or job.fine_tuned_model:
                continue
            if job.creating:
                found = self._find(job)
                if found is not None:
                    job.job_id, job.job_status = found.id, found.status
                    self.save()
                    continue
            # Mark the intent first: if we die between create and save, resume looks the
            # job up by its metadata instead of paying for a second one.
            job.creating = True
            self.state.steps["train"] = "creating"
            self.save()
            created = self.backend.create_job(self._spec(job))
            crash.maybe_crash("after_create_job")  # the job exists, its id is not saved
            job.job_id, job.job_status, job.creating = created.id, created.status, False
            self.save()

    def wait(self) -> None:
        """Poll every unfinished job until all are done; events are kept per job."""
        pending = [j for j in self.planned() if not j.fine_tuned_model]
        if not pending:
            self.state.steps["train"] = "done"
            self.save()
            return
        last: dict[str, str | None] = {}
        for ev in self.run.store.events():
            last[ev.job_id or pending[0].job_id or ""] = ev.id
        names = ", ".join(j.job_id or "?" for j in pending)
        self.ui.step("train", f"fine-tuning job{'s' if len(pending) > 1 else ''} {names}")
        while pending:
            for job in list(pending):
                if self._poll(job, last):
                    pending.remove(job)
            if pending:
                crash.maybe_crash("training")
                chosen = self.run.options.poll_interval  # None: the backend's, asked each time: it
                self.sleep(self.backend.poll_interval if chosen is None else chosen)  # may learn the provider
        self.state.steps["train"] = "done"
        self.save()

    def _poll(self, job: TrainingJob, last: dict[str, str | None]) -> bool:
        """One poll of one job; True when it is done (RunError if it did not succeed)."""
        job_id = job.job_id
        assert job_id is not None
        found = self.backend.get_job(job_id)
        new = self.backend.list_events(job_id, after=last.get(job_id))
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
        if not found.done:
            return False
        if found.status != base.SUCCEEDED:
            raise RunError(
                f"fine-tuning job {found.id} ({job.key}) ended {found.status}: {found.error or 'no message'}"
            )
        base_model = self.run.settings.base_model
        tokens = found.trained_tokens
        job.training_cost = (
            self.pricer.training(tokens, 1, base_model)
            if tokens
            else self.pricer.training(
                training_tokens(self.run.scenario, self._examples(job.training), base_model),
                self.run.settings.epochs,
                base_model,
            )
        )
        job.fine_tuned_model = found.fine_tuned_model
        self.save()
        return True
