"""A server that echoes the API key in another spelling (a JSON \\u escape, URL-encoding,
base64 of the auth header) never gets it into a `--record` cassette, the file users commit
(before: `\\u0073k-...` was written in full). The cassette is checked by decoding each
spelling independently of the redaction code."""

import base64
import binascii
import json
import re
from urllib.parse import quote, unquote

import pytest
import yaml

from backends.simulator.server import Simulator
from tests.helpers import ROOT, invoke
from tests.proxy import RewritingProxy

KEY = "sk-proj-Echo9x2Vb7Lq4Wm1"
pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def json_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def echo_the_key(method, path, status, body):
    """Chat answers quote the key JSON-escaped; every JSON body carries it URL-encoded and
    as the base64 of an Authorization header."""
    if not isinstance(body, dict):
        return None
    body["x_echo_url"] = "https://proxy.example/?key=" + quote(KEY, safe="")
    body["x_echo_auth"] = "Basic " + base64.b64encode(f"user:{KEY}".encode()).decode()
    text = json.dumps(body)
    if path.endswith("/chat/completions") and status == 200:
        marker = body["choices"][0]["message"]["content"]
        text = text.replace(json.dumps(marker)[1:-1], json.dumps(marker)[1:-1] + " (key " + json_escaped(KEY) + ")", 1)
    return status, text


def spellings_found(raw: str) -> list[str]:
    """Every way KEY could still be read from the cassette's text."""
    found = []
    if KEY in raw:
        found.append("plain")
    if KEY in unquote(raw):
        found.append("url-encoded")
    for interaction in yaml.safe_load(raw)["interactions"]:
        for body in (interaction["response"]["body"]["string"], interaction["request"]["body"] or ""):
            text = body.decode("latin-1") if isinstance(body, bytes) else body
            try:
                if KEY in json.dumps(json.loads(text), ensure_ascii=False):
                    found.append("json-escaped")
            except ValueError:
                pass
    for token in re.findall(r"[A-Za-z0-9+/]{20,}={0,2}", raw):
        try:
            if KEY.encode() in base64.b64decode(token + "=" * (-len(token) % 4)):
                found.append("base64")
        except (binascii.Error, ValueError):
            pass
    return found


@pytest.mark.slow
def test_a_key_echoed_in_any_spelling_never_reaches_the_cassette(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cassette = tmp_path / "echo.yaml"
    with Simulator() as sim, RewritingProxy(sim.url, echo_the_key) as proxy:
        args = ["--samples", "1", "--replicates", "1", "--conditions", "fine_tuned,base", "--poll-interval", "0"]
        result = invoke(
            "run",
            ROOT / "scenarios/helol.yaml",
            "--backend",
            "openai",
            "--api-base",
            proxy.url,
            *args,
            "--record",
            cassette,
            "--out",
            tmp_path / "run",
        )
    assert result.exit_code == 0, result.output
    raw = cassette.read_text()
    assert "x_echo_auth" in raw and "<REDACTED>" in raw  # the echoes were recorded, redacted
    assert spellings_found(raw) == []
    # The answers that quoted the key were stored redacted, and the run printed no key.
    responses = (tmp_path / "run" / "responses.jsonl").read_text()
    assert "(key <REDACTED>)" in responses and KEY not in responses and KEY not in result.output
    # The redacted cassette still replays.
    monkeypatch.delenv("OPENAI_API_KEY")
    replayed = invoke(
        "run",
        ROOT / "scenarios/helol.yaml",
        "--backend",
        "openai",
        *args,
        "--replay",
        cassette,
        "--out",
        tmp_path / "r",
    )
    assert replayed.exit_code == 0, replayed.output


def test_the_spelling_checker_sees_every_spelling():
    """The check above is independent of the redaction code: it finds each spelling."""
    for spelled in (
        KEY,
        quote(KEY, safe=""),
        base64.b64encode(f"user:{KEY}".encode()).decode(),
    ):
        raw = yaml.safe_dump({"interactions": [], "x": spelled})
        assert spellings_found(raw), spelled
    raw = yaml.safe_dump(
        {"interactions": [{"request": {"body": None}, "response": {"body": {"string": f'"{json_escaped(KEY)}"'}}}]}
    )
    assert spellings_found(raw) == ["json-escaped"]
