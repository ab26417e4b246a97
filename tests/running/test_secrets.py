"""The API key never shows: not in a run directory, a cassette, a printed line, a log record
(litellm, openai, httpx at DEBUG), nor an exception's message, repr or traceback. A
distinctive key is set for every command, including runs that fail: a failed job, a
provider nobody listens on, a provider whose error body echoes the key, and bad input."""

import asyncio
import json
import logging
import socket
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

import backends.openai as openai_backend
import backends.retry as retry_policy
from backends.base import ChatRequest, JobSpec
from backends.simulator.faults import Faults
from backends.simulator.server import Simulator
from harness import crash
from harness.cli.main import main
from harness.reports import plots
from tests.helpers import ROOT

KEY = "sk-LEAKCHECK-7f3a9c"
NEEDLES = (KEY, KEY[len("sk-") :])  # the key, and the key without its prefix
SCENARIO = ROOT / "scenarios/helol.yaml"
ARGS = [
    "--backend",
    "openai",
    "--samples",
    "1",
    "--seed",
    "4",
    "--poll-interval",
    "0",
    "--replicates",
    "1",
    "--conditions",
    "fine_tuned,base",
]
LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "openai", "httpx", "httpcore", "aiohttp", "vcr")

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def leaked(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


class Watch:
    """Runs commands and collects everything a user or a log could see, to check at the end."""

    def __init__(self, caplog, capfd, tmp_path: Path):
        self.caplog, self.capfd, self.tmp_path = caplog, capfd, tmp_path
        self.seen: list[tuple[str, str]] = []  # (where, text)

    def invoke(self, *args) -> object:
        result = CliRunner().invoke(main, [str(a) for a in args])
        where = " ".join(str(a) for a in args[:2])
        self.seen += [(f"{where}: output", result.output), (f"{where}: stderr", result.stderr)]
        if result.exception is not None:
            self.exception(where, result.exception)
        return result

    def exception(self, where: str, exc: BaseException) -> None:
        self.seen += [
            (f"{where}: str(exception)", str(exc)),
            (f"{where}: repr(exception)", repr(exc)),
            (f"{where}: traceback", "".join(traceback.format_exception(exc))),
        ]

    def check(self) -> None:
        out, err = self.capfd.readouterr()
        self.seen += [("process stdout", out), ("process stderr", err), ("log text", self.caplog.text)]
        # A handler that dumps a record's fields (JSON logs) sees args and extras, not just the text.
        self.seen += [(f"log record {r.name}", repr(r.__dict__)) for r in self.caplog.records]
        for path in sorted(p for p in self.tmp_path.rglob("*") if p.is_file()):
            self.seen.append((str(path.relative_to(self.tmp_path)), path.read_bytes().decode("utf-8", "replace")))
        found = [(where, leaked(text)) for where, text in self.seen if leaked(text)]
        assert not found, f"the API key leaked into: {found}"


@pytest.fixture
def no_charts(monkeypatch):
    """report.html without charts: matplotlib costs ~1 s a run; charts are tested elsewhere."""
    monkeypatch.setattr(plots, "grades_chart", lambda *a, **k: b"")


@pytest.fixture
def watch(monkeypatch, caplog, capfd, tmp_path, no_charts):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    # Without a Retry-After the backend backs off up to 1, 2, 4... s; scaled down here.
    monkeypatch.setattr(retry_policy, "BACKOFF_BASE", 0.001)
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return Watch(caplog, capfd, tmp_path)


@pytest.fixture
def echoing_provider():
    """A provider that answers every request 401 with the caller's key in the message, as
    careless servers do: the harness must not repeat it. Yields (url, keys it received)."""
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def answer(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            key = self.headers.get("Authorization", "").partition(" ")[2]
            received.append(key)
            body = json.dumps(
                {
                    "error": {
                        "message": f"Incorrect API key provided: {key}.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                }
            )
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        do_GET = do_POST = answer

        def log_message(self, *args):  # no access log on stderr
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll keeps shutdown() from waiting its default half second.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Killed(BaseException):
    """Stands in for SIGKILL mid-training, so that there is a live job to cancel."""


def test_recorded_run_status_report_and_resume(watch, tmp_path):
    cassette = tmp_path / "cassettes/run.yaml"
    out = tmp_path / "runs/run"
    with Simulator(port=0) as sim:
        result = watch.invoke("run", SCENARIO, *ARGS, "--api-base", sim.url, "--out", out, "--record", cassette)
        assert result.exit_code == 0, result.output
        for command in ("status", "report", "resume"):
            assert watch.invoke(command, out).exit_code == 0
    assert cassette.exists() and cassette.with_suffix(".meta.yaml").exists()
    assert (out / "summary.json").exists() and (out / "report.html").exists()
    watch.check()


def test_cancel_and_a_refused_resume(watch, tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(crash, "kill", lambda: (_ for _ in ()).throw(Killed("training")))
    monkeypatch.setattr(crash, "_seen", {})
    monkeypatch.setenv("HARNESS_CRASH_AT", "training")
    with Simulator(port=0) as sim:
        with pytest.raises(Killed):
            CliRunner().invoke(
                main, ["run", str(SCENARIO), *ARGS, "--api-base", sim.url, "--out", str(out)], catch_exceptions=False
            )
        monkeypatch.delenv("HARNESS_CRASH_AT")
        assert watch.invoke("cancel", out).exit_code == 0
        assert sim.stats()["cancels"] == 1
        assert watch.invoke("resume", out).exit_code == 2
        assert watch.invoke("status", out).exit_code == 0
    watch.check()


def test_failed_job(watch, tmp_path):
    with Simulator(port=0, faults=Faults(fail_jobs=True)) as sim:
        result = watch.invoke("run", SCENARIO, *ARGS, "--api-base", sim.url, "--out", tmp_path / "run")
    assert result.exit_code == 1 and "ended failed" in result.output
    assert watch.invoke("status", tmp_path / "run").exit_code == 0
    watch.check()


def test_unreachable_provider(watch, tmp_path):
    with socket.socket() as s:  # a port nothing listens on: every attempt is refused
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    result = watch.invoke("run", SCENARIO, *ARGS, "--api-base", url, "--out", tmp_path / "run")
    assert result.exit_code == 1 and "cannot reach" in result.output
    watch.check()


def test_provider_error_that_echoes_the_key(watch, echoing_provider, tmp_path):
    url, received = echoing_provider
    result = watch.invoke("run", SCENARIO, *ARGS, "--api-base", url, "--out", tmp_path / "run")
    assert result.exit_code == 1 and "HTTP 401" in result.output
    assert "Incorrect API key provided: sk-***" in result.output  # the message, with the key scrubbed
    assert received and set(received) == {KEY}  # the server did get (and echo) the key

    backend = openai_backend.OpenAIBackend(api_base=url, max_retries=0)
    watch.seen.append(("repr(backend)", repr(backend)))
    chat = ChatRequest(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], temperature=1.0)
    calls = {
        "upload": lambda: backend.upload_training_file(b"{}\n", "x.jsonl"),
        "create_job": lambda: backend.create_job(
            JobSpec(base_model="gpt-4o-mini", training_file="file-1", metadata={"harness_run_id": "r"})
        ),
        "get_job": lambda: backend.get_job("ftjob-1"),
        "list_events": lambda: backend.list_events("ftjob-1"),
        "cancel_job": lambda: backend.cancel_job("ftjob-1"),
        "find_jobs": lambda: backend.find_jobs({"harness_run_id": "r"}),
        "complete": lambda: asyncio.run(backend.complete(chat)),
    }
    for name, call in calls.items():
        with pytest.raises(openai_backend.BackendError) as caught:
            call()
        assert caught.value.status == 401 and "sk-***" in str(caught.value), name
        watch.exception(name, caught.value)
    watch.check()


def test_bad_input(watch, tmp_path):
    not_a_run = tmp_path / "empty"
    not_a_run.mkdir()
    cases = [
        ["run", tmp_path / "missing.yaml", *ARGS, "--out", tmp_path / "a"],
        ["run", SCENARIO, *ARGS, "--backend", "nope", "--out", tmp_path / "b"],
        ["run", SCENARIO, *ARGS, "--api-base", "ftp://example.invalid/v1", "--out", tmp_path / "c"],
        ["run", SCENARIO, *ARGS, "--max-cost", "0.0001", "--out", tmp_path / "d"],
        ["run", SCENARIO, *ARGS, "--samples", "0", "--out", tmp_path / "e"],
        ["status", not_a_run],
        ["resume", not_a_run],
        ["cancel", not_a_run],
        ["report", not_a_run],
    ]
    for args in cases:
        result = watch.invoke(*args)
        assert result.exit_code == 2, (args, result.output)
    watch.check()


def test_litellm_debug_output_does_not_show_the_key(watch, echoing_provider, tmp_path, monkeypatch):
    """What a user sees after turning litellm's debug output on (LITELLM_LOG=DEBUG or
    litellm.set_verbose): litellm masks the Authorization header in its curl line."""
    import litellm

    monkeypatch.setattr(litellm, "set_verbose", True)
    loggers = [logging.getLogger(n) for n in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")]
    levels = [lg.level for lg in loggers]
    litellm._turn_on_debug()
    try:
        with Simulator(port=0) as sim:
            ok = watch.invoke("run", SCENARIO, *ARGS, "--api-base", sim.url, "--out", tmp_path / "ok")
        url, _ = echoing_provider
        failed = watch.invoke("run", SCENARIO, *ARGS, "--api-base", url, "--out", tmp_path / "401")
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
    assert ok.exit_code == 0 and failed.exit_code == 1
    everything = "\n".join(text for _, text in watch.seen) + watch.caplog.text
    assert "POST Request Sent from LiteLLM" in everything  # debug output was really on
    watch.check()


def test_the_harness_leaves_litellm_debug_output_off(tmp_path, monkeypatch, no_charts):
    import litellm

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setattr(litellm, "set_verbose", False)
    before = logging.getLogger("LiteLLM").getEffectiveLevel()
    with Simulator(port=0) as sim:  # base only: no training, seven chats
        result = CliRunner().invoke(
            main,
            [
                "run",
                str(SCENARIO),
                *ARGS,
                "--conditions",
                "base",
                "--api-base",
                sim.url,
                "--out",
                str(tmp_path / "run"),
            ],
        )
    assert result.exit_code == 0, result.output
    assert litellm.set_verbose is False and logging.getLogger("LiteLLM").getEffectiveLevel() == before
    assert "LiteLLM" not in result.output and not leaked(result.output)
