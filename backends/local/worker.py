"""A training worker: `python -m backends.local.worker JOB_DIR LOCK_FD`.

Started by backends.local.jobs in a session of its own. It holds the inherited lock on
JOB_DIR/worker.lock until it exits (that lock is how others know it runs; it is never
closed here), writes its progress as job events and its outcome to state.json.

Test hook: with HARNESS_LOCAL_HOLD=PATH set, the worker pauses after each epoch checkpoint
for as long as PATH exists (tests use it to kill or cancel at a known point).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
import traceback
from pathlib import Path

from backends.base import CANCELLED, FAILED, RUNNING, SUCCEEDED
from backends.local import jobs, models
from backends.local.hyper import Hyper
from backends.local.store import Store, append_event, read_json

HOLD_ENV = "HARNESS_LOCAL_HOLD"


def _hold() -> None:
    path = os.environ.get(HOLD_ENV)
    while path and Path(path).exists():
        time.sleep(0.1)


def _conversations(path: Path) -> list[list[dict]]:
    return [json.loads(line)["messages"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run(job_dir: Path) -> None:
    spec = read_json(job_dir / "spec.json")
    if spec["device"].startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, where it can be
    import torch

    from backends.local import loading, training

    def log(message: str, level: str = "info") -> None:
        append_event(job_dir, message, level)

    torch.use_deterministic_algorithms(True, warn_only=True)
    device = loading.choose_device(spec["device"])
    base = models.ResolvedModel(**spec["model"])
    log(f"Loading {base.source} on {device} ({loading.dtype_name(device)}), {torch.get_num_threads()} CPU threads")
    started = time.monotonic()
    lm, tokenizer = loading.load(base, device, job_dir.parent.parent / "converted")
    log(f"Loaded the base model in {time.monotonic() - started:.1f} s")
    hyper = Hyper(**spec["hyper"])
    model, tokens = training.train(
        lm, tokenizer, _conversations(Path(spec["training_path"])), hyper, job_dir, log, after_epoch=_hold
    )
    if (job_dir / "cancel").exists():
        return  # cancelled while finishing: the canceller records it
    adapter, tmp = job_dir / "adapter", job_dir / f"adapter.tmp-{os.getpid()}"
    model.save_pretrained(str(tmp))
    if adapter.exists():  # left by a worker killed after saving, before recording success
        for f in adapter.iterdir():
            f.unlink()
        adapter.rmdir()
    os.replace(tmp, adapter)
    key = Store(job_dir.parent.parent).claim_model(spec["train_key"][:8], job_dir.name)
    name = f"ft:{spec['base_model']}:local:{spec['suffix'] or 'model'}:{key}"
    jobs.update_state(job_dir, status=SUCCEEDED, fine_tuned_model=name, trained_tokens=tokens, error=None)
    log(f"New fine-tuned model created: {name}")
    log("The job has successfully completed")


def _take_the_training_slot(job_dir: Path) -> None:
    """One job trains at a time on this machine (per store): six jobs at once on two cores
    only thrash, as a provider's jobs wait in its queue. The job stays queued meanwhile; the
    kernel frees the slot whatever ends this process."""
    slot = os.open(job_dir.parent.parent / "training.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        append_event(job_dir, "Queued: another job is training on this machine")
        fcntl.flock(slot, fcntl.LOCK_EX)


def main(argv: list[str]) -> int:
    job_dir = Path(argv[1])
    int(argv[2])  # the inherited lock's fd: kept open (never closed) for the life of the process
    (job_dir / "worker.pid").write_text(str(os.getpid()))
    if jobs.state(job_dir)["status"] in (SUCCEEDED, FAILED, CANCELLED):
        return 0
    _take_the_training_slot(job_dir)  # held until this process exits
    jobs.update_state(job_dir, status=RUNNING)
    append_event(job_dir, f"Training worker started (pid {os.getpid()})")
    try:
        run(job_dir)
    except Exception as e:  # the job fails with the reason; the traceback goes to worker.log
        traceback.print_exc()
        error = f"training failed: {type(e).__name__}: {e} (see {job_dir / 'worker.log'})"
        append_event(job_dir, error, level="error")
        jobs.update_state(job_dir, status=FAILED, error=error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
