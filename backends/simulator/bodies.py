"""The simulator's fine-tuning bodies shaped as OpenAI's recorded ones (tests/fixtures/
openai-recorded/, checked by tests/backends/test_conformance.py): the job object, its events
(newest first, metrics events, the checkpoint events) and its checkpoints. Pure functions of a
backend's job, its events and the simulator's record of the job; no server state lives here."""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from backends.base import FAILED, RUNNING, SUCCEEDED, VALIDATING, Job, JobEvent
from backends.simulator.wire import ApiError

ORGANIZATION = "org-simulator"
# What "auto" resolves to once a job runs (recorded: n_epochs 3, batch_size 1, multiplier 2).
AUTO = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 2}
# The mock's training events: "Step 20/30: training loss=0.2806"
STEP = re.compile(r"^Step (\d+)/(\d+): training loss=([\d.]+)$")
NEW_MODEL = "New fine-tuned model created: "


def not_found(job_id: str) -> ApiError:
    """As recorded (2023): OpenAI's words, param and code for an unknown job id."""
    return ApiError(404, f"Could not find fine tune: {job_id[:200]}", param="fine_tune_id", code="fine_tune_not_found")


def _hash(*parts: Any) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def _alnum(*parts: Any, n: int = 24) -> str:
    """n letters and digits from a hash, like OpenAI's ids (which mix cases)."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    value = int(_hash(*parts), 16)
    out = []
    for _ in range(n):
        value, i = divmod(value, len(alphabet))
        out.append(alphabet[i])
    return "".join(out)


def result_file_id(job_id: str) -> str:
    return f"file-{_alnum('result', job_id, n=22)}"


def hyperparameters(rec: dict[str, Any], started: bool) -> dict[str, Any]:
    """As asked ("auto" where not given) until the job has run; then "auto" resolved to the
    numbers used, a given multiplier as a float (recorded: 3 comes back 3.0, auto as 2)."""
    given = dict(rec["hyperparameters"])
    if not started:
        return given
    out = {k: (AUTO[k] if v == "auto" else v) for k, v in given.items()}
    if given.get("learning_rate_multiplier", "auto") != "auto":
        out["learning_rate_multiplier"] = float(given["learning_rate_multiplier"])
    return out


def job_body(job: Job, rec: dict[str, Any], events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A FineTuningJob as OpenAI answers it (2025 recordings): `error` {} unless failed,
    hyperparameters resolved once running, `finished_at`, `result_files` and
    `trained_tokens` only at success, `estimated_finish` always null. `events` (newest
    first, as rendered) date the end of a succeeded job."""
    status, model, tokens = job.status, job.fine_tuned_model, job.trained_tokens
    error: dict[str, Any] = {}
    if rec["failed"]:
        status, model, tokens = FAILED, None, None
        error = rec.get("error") or {
            "code": "simulated_failure",
            "param": None,
            "message": "The job failed due to an internal error (simulated).",
        }
    elif not rec["cancelled"] and rec["validating"] and rec["polls"] <= rec["validating"]:
        status, model, tokens = VALIDATING, None, None
    elif status == FAILED:
        error = {"code": "job_failed", "param": None, "message": job.error or "The job failed."}
    if status in (RUNNING, SUCCEEDED):
        rec["ran"] = True
    succeeded = status == SUCCEEDED
    hyper = hyperparameters(rec, bool(rec.get("ran")))
    method_hyper = dict(hyper)
    if isinstance(method_hyper.get("learning_rate_multiplier"), int):
        method_hyper["learning_rate_multiplier"] = float(method_hyper["learning_rate_multiplier"])
    finished = None
    if succeeded:
        ends = [e["created_at"] for e in events or [] if str(e["message"]).startswith(NEW_MODEL)]
        finished = ends[0] if ends else rec["finished_at"]
    return {
        "object": "fine_tuning.job",
        "id": job.id,
        "model": rec["model"],
        "created_at": rec["created_at"],
        "finished_at": finished,
        "fine_tuned_model": model if succeeded else None,
        "organization_id": ORGANIZATION,
        "result_files": [result_file_id(job.id)] if succeeded else [],
        "status": status,
        "validation_file": rec["validation_file"],
        "training_file": rec["training_file"],
        "hyperparameters": hyper,
        "trained_tokens": tokens if succeeded else None,
        "error": error,
        "user_provided_suffix": rec.get("suffix"),
        "seed": rec["seed"],
        "estimated_finish": None,
        "integrations": [],
        "metadata": rec["metadata"],
        "usage_metrics": None,
        "shared_with_openai": False,
        "eval_id": None,
        "method": {"type": "supervised", "supervised": {"hyperparameters": method_hyper}},
    }


def _event(job_id: str, key: Any, created_at: int, message: str, data: Any = None, type_: str = "message") -> dict:
    return {
        "object": "fine_tuning.job.event",
        "id": f"ftevent-sim-{_alnum('event', job_id, key)}",
        "created_at": created_at,
        "level": "info",
        "message": message,
        "data": {} if data is None else data,
        "type": type_,
    }


def event_level(level: str) -> str:
    level = level.lower()
    return "warn" if level.startswith("warn") else level if level in ("info", "error") else "info"


def accuracy(step: int, total: int) -> float:
    """A simulated train_mean_token_accuracy that rises with training."""
    return round(min(1.0, 0.55 + 0.45 * (1 - math.exp(-3.0 * step / max(total, 1)))), 4)


def events_body(job: Job, rec: dict[str, Any], backend_events: list[JobEvent], model: str | None) -> list[dict]:
    """The job's events as OpenAI lists them, newest first: "Created fine-tuning job" at the
    job's creation, the backend's events moved onto the job's clock, its training steps as
    `metrics` events (data: step, train_loss, total_steps, train_mean_token_accuracy), and, when
    it succeeded, a checkpoint event for each earlier checkpoint just before the model's."""
    created = rec["created_at"]
    start = backend_events[0].created_at if backend_events else 0
    out = [_event(job.id, "created", created, f"Created fine-tuning job: {job.id}")]
    for e in backend_events:
        if e.message == "Job cancelled":
            continue  # recorded: cancelling adds no event (the newest stays "Validating ..." on dotnet's)
        when = created + (e.created_at - start)
        step = STEP.match(e.message)
        if step:
            n, total, loss = int(step.group(1)), int(step.group(2)), float(step.group(3))
            data = {
                "step": n,
                "train_loss": loss,
                "total_steps": total,
                "train_mean_token_accuracy": accuracy(n, total),
            }
            item = {**_event(job.id, e.id, when, f"Step {n}/{total}: training loss={loss:.2f}", data, "metrics")}
            item["id"] = e.id
            out.append(item)
            continue
        if e.message.startswith(NEW_MODEL) and model:
            for ckpt in reversed(checkpoints(job, rec, backend_events, model)[1:]):
                out.append(
                    _event(
                        job.id,
                        ckpt["id"],
                        when,
                        f"Checkpoint created at step {ckpt['step_number']} with Snapshot ID: "
                        f"{ckpt['fine_tuned_model_checkpoint']}",
                    )
                )
        item = _event(job.id, e.id, when, e.message, None if e.message == "Fine-tuning job started" else {})
        item.update(id=e.id, level=event_level(e.level))
        if e.message == "Fine-tuning job started":
            item["data"] = None  # recorded: null for this one event (2024)
        out.append(item)
    last = out[-1]["created_at"]
    out += [
        _event(job.id, e["id"], last + 1 + i, e["message"], e.get("data")) | {"id": e["id"], "level": e["level"]}
        for i, e in enumerate(rec["extra_events"])
    ]
    return out[::-1]


def checkpoints(job: Job, rec: dict[str, Any], backend_events: list[JobEvent], model: str) -> list[dict]:
    """A succeeded job's checkpoints, newest first: one at each of the last three epoch
    boundaries (fewer with fewer epochs); the last is the job's model itself, the earlier ones
    have their own 8-character id and a `:ckpt-step-N` tail (as recorded)."""
    steps = {int(m.group(1)): float(m.group(3)) for e in backend_events if (m := STEP.match(e.message))}
    if not steps:
        return []
    total = max(steps)
    epochs = int(hyperparameters(rec, True).get("n_epochs") or 1)
    per_epoch = max(1, total // max(1, epochs))
    marks = [total - k * per_epoch for k in range(min(3, epochs)) if total - k * per_epoch > 0]
    created = rec["created_at"]
    start = backend_events[0].created_at if backend_events else created
    end = created + (backend_events[-1].created_at - start) if backend_events else created
    head, _, _ = model.rpartition(":")
    out = []
    for i, step in enumerate(marks):
        loss = steps.get(step, min(steps.items(), key=lambda kv: abs(kv[0] - step))[1])
        name = model if i == 0 else f"{head}:{_alnum('ckpt', job.id, step, n=8)}:ckpt-step-{step}"
        out.append(
            {
                "object": "fine_tuning.job.checkpoint",
                "id": f"ftckpt_{_alnum('ckpt', job.id, step)}",
                "created_at": end - 2 - 10 * i,
                "fine_tuned_model_checkpoint": name,
                "fine_tuning_job_id": job.id,
                "metrics": {
                    "step": step,
                    "train_loss": loss,
                    "train_mean_token_accuracy": accuracy(step, total),
                    "type": "supervised",
                },
                "step_number": step,
            }
        )
    return out
