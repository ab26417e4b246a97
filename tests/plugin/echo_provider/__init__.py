"""A toy provider living in its own distribution, to show (and test) that a backend from
another package plugs into the harness through the `harness.backends` entry-point group.

It can only chat, and its answer is the last user message echoed back with a prefix, so a
test can tell exactly what it sent. Fine-tuning calls fail with a BackendError, as a real
chat-only provider's would.
"""
from __future__ import annotations

from backends.base import CHAT, BackendError, ChatRequest, Completion, FileRef, Job, JobEvent, JobSpec

PREFIX = "echo: "


def echo_text(request: ChatRequest) -> str:
    """The answer to a request: the last user message, prefixed (public so tests can compare)."""
    users = [m["content"] for m in request.messages if m.get("role") == "user"]
    return PREFIX + (users[-1] if users else "")


class EchoBackend:
    name = "echo"
    capabilities = frozenset({CHAT})
    simulated = True  # a toy: nothing it says is about a real model
    OPTIONS: tuple[str, ...] = ()  # the registry passes no run options to it

    def _no_fine_tuning(self, call: str) -> BackendError:
        return BackendError(f"echo backend cannot fine-tune ({call})", status=400, retryable=False)

    def upload_training_file(self, data: bytes, filename: str) -> FileRef:
        raise self._no_fine_tuning("upload_training_file")

    def create_job(self, spec: JobSpec) -> Job:
        raise self._no_fine_tuning("create_job")

    def get_job(self, job_id: str) -> Job:
        raise self._no_fine_tuning("get_job")

    def list_events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        raise self._no_fine_tuning("list_events")

    def cancel_job(self, job_id: str) -> Job:
        raise self._no_fine_tuning("cancel_job")

    def find_jobs(self, metadata: dict[str, str]) -> list[Job]:
        return []  # it never made a job, so none matches

    async def complete(self, request: ChatRequest) -> Completion:
        text = echo_text(request)
        prompt_words = sum(len(m.get("content", "").split()) for m in request.messages)
        return Completion(text=text, model=request.model, prompt_tokens=prompt_words,
                          completion_tokens=len(text.split()))
