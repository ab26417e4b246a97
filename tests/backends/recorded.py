"""Real OpenAI traffic recorded by others (tests/fixtures/openai-recorded/, one provenance line
per file): loading it, grouping it by source, describing a body's shape, and turning recorded
exchanges into a vcrpy cassette that the openai backend replays with sockets blocked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "openai-recorded"
SOURCES = {  # file-name prefix -> the independent source it comes from
    "ruby": "alexrudall/ruby-openai (VCR cassettes)",
    "dotnet": "openai/openai-dotnet (session records)",
    "qtran": "QTRANll/QTRAN (pasted SDK output)",
    "langnostic": "inaimathi/langnostic (REPL transcript)",
    "issue": "GitHub issues (pasted error bodies)",
}

# OpenAI's id formats, as recorded (the simulator's carry a "mock"/"sim" marker after the prefix).
IDS = {
    "job": re.compile(r"^ftjob-[A-Za-z0-9-]{6,}$"),
    "event": re.compile(r"^ftevent-[A-Za-z0-9-]{6,}$"),
    "checkpoint": re.compile(r"^ftckpt_[A-Za-z0-9]{20,}$"),
    "file": re.compile(r"^file-[A-Za-z0-9-]{6,}$"),
    "chat": re.compile(r"^chatcmpl-[A-Za-z0-9]{10,}$"),
    # ft:<base snapshot>:<org or "personal">:<suffix, may be empty>:<8 characters>[:ckpt-step-N]
    "model": re.compile(r"^ft:[a-z0-9.\-]+:[A-Za-z0-9\-_]+:[A-Za-z0-9\-_]*:[A-Za-z0-9]{8}(:ckpt-step-\d+)?$"),
}


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def names(prefix: str = "") -> list[str]:
    return sorted(p.name for p in FIXTURES.glob(f"{prefix}*.json"))


def source(name: str) -> str:
    return SOURCES[name.split("-", 1)[0]]


def kind(value: Any) -> str:
    """A JSON value's kind, ints and floats alike (OpenAI mixes them: 2 and 2.0)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def shape(body: dict[str, Any]) -> dict[str, str]:
    return {k: kind(v) for k, v in body.items()}


def jobs_in(name: str) -> list[dict[str, Any]]:
    body = load(name)["body"]
    return body["data"] if body.get("object") == "list" else [body]


def cassette(path: Path, exchanges: list[tuple[dict[str, Any], int, dict[str, str], Any]]) -> Path:
    """A vcrpy cassette answering each (request, status, headers, body) once, in order. A
    request is {"method", "path", "query"?, "body"?} as the backend will send it."""
    interactions = []
    for request, status, headers, body in exchanges:
        query = request.get("query") or {}
        uri = "https://api.openai.com" + request["path"]
        if query:
            from urllib.parse import urlencode

            uri += "?" + urlencode(query)
        sent = request.get("body")
        interactions.append(
            {
                "request": {
                    "method": request["method"],
                    "uri": uri,
                    "body": json.dumps(sent) if isinstance(sent, (dict, list)) else sent,
                    "headers": {"Content-Type": ["application/json"]} if sent is not None else {},
                },
                "response": {
                    "status": {"code": status, "message": "recorded"},
                    "headers": {k: [v] for k, v in headers.items() if k not in ("content-length", "content-encoding")}
                    | {"content-type": ["application/json"]},
                    "body": {"string": body if isinstance(body, str) else json.dumps(body)},
                },
            }
        )
    path.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}, sort_keys=False))
    return path
