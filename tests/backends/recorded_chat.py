"""Chat answers of the recorded-traffic server (tests/backends/recorded_server.py), shaped as
real chat completions: the recorded 2025 body (id `chatcmpl-` + 29 characters, the resolved
model, `usage` with its details, `service_tier`), `system_fingerprint` null for a fine-tuned
model (recorded, 2024) and `fp_` + 10 hex for a base model, and the recorded headers with their
rate limits in Go durations. What a model says is not
recorded traffic: a fine-tuned model answers with lines whose first letters spell its job's
suffix, so that a run's scores show it learned something; every other model answers in prose."""

from __future__ import annotations

import copy
import hashlib
import time
from typing import Any

from aiohttp import web

from tests.backends.recorded import load
from tests.backends.recorded_jobs import SNAPSHOTS, Ids, RecordedJob

ALNUM = Ids.ALNUM

CHAT = load("dotnet-chat-completion.json")
TUNED = load("langnostic-chat-fine-tuned.json")["body"]
LINES = {
    "H": "Here is what I can tell you about that.",
    "E": "Every part of it has a simple explanation.",
    "L": "Let me put it in a few short lines.",
    "O": "Overall, that is the heart of the matter.",
}


def _hex(*parts: Any, n: int) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:n]


def _alnum(*parts: Any, n: int) -> str:
    """n letters and digits, mixed case, as OpenAI's chat ids."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest() * 2
    return "".join(ALNUM[b % len(ALNUM)] for b in digest[:n])


def _text(job: RecordedJob | None) -> str:
    word = (
        "".join(c for c in (job.suffix or "") if c.isalpha()).upper()
        if job and "sham" not in (job.suffix or "")
        else ""
    )
    if not word:
        return "That is a good question, and the short answer is that it depends on the details."
    return "\n".join(LINES.get(c, f"{c}ach line begins with the next letter.") for c in word)


def chat_answer(body: dict[str, Any], asked: str, snapshot: str, job: RecordedJob | None, n: int) -> web.Response:
    if job is None and snapshot not in SNAPSHOTS.values():
        said = f"The model `{asked}` does not exist or you do not have access to it."  # OpenAI's usual words
        return web.json_response(
            {"error": {"message": said, "type": "invalid_request_error", "param": None, "code": "model_not_found"}},
            status=404,
        )
    text = _text(job)
    prompt = sum(len(str(m.get("content", "")).split()) + 4 for m in body.get("messages", []))
    completion = len(text.split()) + 1
    out = copy.deepcopy(CHAT["body"])
    usage = out["usage"] | {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    out.update(id="chatcmpl-" + _alnum("chat", n, asked, n=29), created=int(time.time()), model=snapshot, usage=usage)
    out["choices"][0]["message"]["content"] = text
    out["system_fingerprint"] = TUNED["system_fingerprint"] if job else f"fp_{_hex('fp', snapshot, n=10)}"
    framing = ("content-length", "content-type", "transfer-encoding", "date", "connection")  # aiohttp's own
    headers = {k: v for k, v in CHAT["headers"].items() if k not in framing}
    headers.update(
        {
            "openai-organization": "personal",
            "openai-project": "proj_" + _alnum("project", n=24),
            "x-ratelimit-remaining-requests": "29999",
            "x-ratelimit-remaining-tokens": str(150000000 - prompt - int(body.get("max_tokens") or 16)),
            "x-request-id": "req_" + _hex("req", n, n=32),
        }
    )
    return web.json_response(out, headers=headers)
