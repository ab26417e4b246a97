"""A client-driven provider's own disk: training files (content-addressed), job folders and
the map from fine-tuned model keys to their jobs. The local and tinker backends each keep one
(their own root, their own id prefix). No torch or provider SDK here.

    <store>/files/<file-id>.jsonl          the bytes uploaded (id = hash of the bytes)
    <store>/files/<file-id>.json           size and example count
    <store>/names/<hash of name>/<file-id> one empty marker per name a file was uploaded under
    <store>/jobs/<job-id>/                 spec.json, state.json, events.jsonl, worker.log,
                                           checkpoint/ ... (see backends.jobs.runner)
    <store>/models/<key>.json              fine-tuned model key -> job id

Several processes share a store (the harness, training workers, a second harness running
`status` or `cancel`): every file is written atomically, events are appended under a lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from backends._files import chat_examples, write_atomic
from backends.base import BackendError, FileRef, JobEvent


def cache_root(provider: str, env_var: str) -> Path:
    """$env_var, else the user's cache folder (XDG on Linux, Library/Caches on macOS)."""
    if os.environ.get(env_var):
        return Path(os.environ[env_var]).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "hello-harness" / provider
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hello-harness" / provider


def sha(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


@contextlib.contextmanager
def flocked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if missing) for the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def parse_training(data: bytes) -> int:
    """Validate chat JSONL as a provider would; returns the number of examples."""
    examples = sum(1 for _ in chat_examples(data, "training file line"))
    if not examples:
        raise BackendError("training file has no examples", status=400)
    return examples


class Store:
    """`provider` prefixes the ids it hands out: file-<provider>-..., ftjob-<provider>-..."""

    def __init__(self, root: Path, provider: str):
        self.root = Path(root)
        self.provider = provider

    # -- training files ------------------------------------------------------------------
    def put_file(self, data: bytes, filename: str, examples: int) -> FileRef:
        file_id = f"file-{self.provider}-" + hashlib.sha256(data).hexdigest()[:32]
        blob = self.root / "files" / f"{file_id}.jsonl"
        if not blob.exists():  # same bytes, same id: a second upload stores nothing new
            write_atomic(blob, data)
            write_json(blob.with_suffix(".json"), {"bytes": len(data), "examples": examples})
        marker = self.root / "names" / sha(filename)[:32] / file_id
        marker.parent.mkdir(parents=True, exist_ok=True)
        write_json(marker, {"filename": filename})  # rewritten: its mtime says when it was last uploaded
        return FileRef(file_id, filename, len(data))

    def file_path(self, file_id: str) -> Path:
        path = self.root / "files" / f"{file_id}.jsonl"
        if not file_id.startswith(f"file-{self.provider}-") or "/" in file_id or not path.is_file():
            raise BackendError(f"training file {file_id} not found", status=404)
        return path

    def find_files(self, filename: str) -> list[FileRef]:
        folder = self.root / "names" / sha(filename)[:32]
        if not folder.is_dir():
            return []
        markers = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        return [FileRef(m.name, filename, self.file_path(m.name).stat().st_size) for m in markers]

    # -- jobs ----------------------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        path = self.root / "jobs" / job_id
        if "/" in job_id or job_id.startswith(".") or not (path / "spec.json").is_file():
            raise BackendError(f"fine-tuning job {job_id} not found", status=404)
        return path

    def new_job_dir(self, asked: dict) -> tuple[str, Path]:
        """A fresh folder for a job, its id a hash of what was asked; a repeated spec gets
        "<id>-2", "<id>-3"... (mkdir is atomic, so two processes never share one)."""
        base_id = f"ftjob-{self.provider}-" + sha(asked)[:24]
        jobs = self.root / "jobs"
        jobs.mkdir(parents=True, exist_ok=True)
        n = 1
        while True:
            job_id = base_id if n == 1 else f"{base_id}-{n}"
            try:
                (jobs / job_id).mkdir()
                return job_id, jobs / job_id
            except FileExistsError:
                n += 1

    def job_ids(self) -> list[str]:
        """Jobs with a spec, oldest first."""
        jobs = self.root / "jobs"
        if not jobs.is_dir():
            return []
        found = [
            (read_json(p / "spec.json").get("created_at", 0), p.name)
            for p in jobs.iterdir()
            if (p / "spec.json").is_file()
        ]
        return [name for _, name in sorted(found)]

    def find_jobs(self, metadata: dict[str, str]) -> list[str]:
        """Ids of the jobs whose metadata holds every given pair, oldest first."""
        found = []
        for job_id in self.job_ids():
            spec = read_json(self.root / "jobs" / job_id / "spec.json")
            if all(spec["metadata"].get(k) == v for k, v in metadata.items()):
                found.append(job_id)
        return found

    # -- fine-tuned models ---------------------------------------------------------------
    def claim_model(self, key: str, job_id: str) -> str:
        """Record that `key` (a hash of what is trained) names this job's model; a repeated
        key gets "<key>-2"... as a repeated spec gets a second job. Returns the key used."""
        folder = self.root / "models"
        folder.mkdir(parents=True, exist_ok=True)
        n = 1
        while True:
            name = key if n == 1 else f"{key}-{n}"
            try:
                fd = os.open(folder / f"{name}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if read_json(folder / f"{name}.json").get("job") == job_id:
                    return name  # a restarted worker claims again: keep its name
                n += 1
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"job": job_id}, f)
            return name

    def model_job(self, model_key: str) -> str | None:
        path = self.root / "models" / f"{model_key}.json"
        if "/" in model_key or not path.is_file():
            return None
        return read_json(path)["job"]


# -- job events (shared by the harness process and the worker) -------------------------


def append_event(job_dir: Path, message: str, level: str = "info") -> None:
    """Append one event; ids count up per job. The lock makes the count and the append one step
    across processes (the worker writes progress, the harness writes cancel and restart)."""
    path = job_dir / "events.jsonl"
    with flocked(job_dir / "events.lock"):
        _drop_torn_tail(path)
        n = len(read_events(job_dir))
        line = json.dumps(
            {
                "id": f"ftevent-{job_dir.name.removeprefix('ftjob-')}-{n + 1:06d}",
                "created_at": int(time.time()),
                "level": level,
                "message": message,
            }
        )
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that a killed writer left without its newline, so the next event
    starts on a line of its own."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def read_events(job_dir: Path) -> list[JobEvent]:
    path = job_dir / "events.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # torn by a killed writer: the next append starts a new line after it
        e = json.loads(line)
        events.append(JobEvent(e["id"], e["created_at"], e["level"], e["message"]))
    return events


# -- the last epoch checkpoint (written by each trainer, read by the runner's restart) -----


def last_checkpoint(job_dir: Path) -> dict | None:
    """checkpoint/epoch.json: the last finished epoch, written last and atomically when an
    epoch's state is saved, so a worker killed while saving leaves the previous one whole."""
    path = job_dir / "checkpoint" / "epoch.json"
    return read_json(path) if path.exists() else None


def record_checkpoint(job_dir: Path, info: dict) -> None:
    write_atomic(job_dir / "checkpoint" / "epoch.json", json.dumps(info))
