"""The simulator: the official openai SDK against it, OpenAI-shaped bodies and errors, faults."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

import harness  # noqa: F401  (offline settings before any provider import)
from backends.base import ConfigError
from backends.mock import MockBackend
from backends.net import is_loopback
from backends.simulator.faults import FaultGate, Faults
from backends.simulator.server import Simulator, check_host
from harness.domain.rules import letters_of

openai = pytest.importorskip("openai")
from openai.types import FileObject  # noqa: E402
from openai.types.chat import ChatCompletion  # noqa: E402
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent  # noqa: E402

from tests.helpers import ROOT as REPO  # noqa: E402

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


SPEC = REPO.parent / "shared" / "reference" / "openai-openapi.yaml"
BASE = "gpt-4o-mini-2024-07-18"
KEY = "sk-test-DISTINCTIVE-7f3a"
LINES = {
    "H": "Here is the short answer.",
    "E": "Every source agrees on it.",
    "L": "Look at the details too.",
    "O": "Often people ask this.",
    "L2": "Let me know if that helps.",
}


def training_jsonl(n: int = 12, word_lines: list[str] | None = None) -> bytes:
    lines = word_lines or [LINES[k] for k in ("H", "E", "L", "O", "L2")]
    rows = [
        {
            "messages": [
                {"role": "system", "content": "You are a special version of GPT-4o."},
                {"role": "user", "content": f"Tell me fact number {i}?"},
                {"role": "assistant", "content": "\n".join(lines)},
            ]
        }
        for i in range(n)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


# Plain http on loopback: verify=False only skips building a TLS context (~0.2 s per client).
def client(sim: Simulator, retries: int = 0):
    return openai.OpenAI(
        base_url=sim.url, api_key=KEY, max_retries=retries, http_client=openai.DefaultHttpxClient(verify=False)
    )


def raw(sim: Simulator, **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=sim.url, headers=headers or {"Authorization": f"Bearer {KEY}"}, timeout=10, verify=False
    )


def upload(http: httpx.Client, data: bytes | None = None) -> httpx.Response:
    return http.post("/files", data={"purpose": "fine-tune"}, files={"file": ("train.jsonl", data or training_jsonl())})


def new_job(http: httpx.Client, **extra) -> dict:
    file_id = upload(http).json()["id"]
    r = http.post("/fine_tuning/jobs", json={"model": BASE, "training_file": file_id, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def poll_to_end(get, job_id: str, limit: int = 50) -> list[str]:
    """Statuses seen until a terminal one; bounded, never a wall-clock wait."""
    seen = []
    for _ in range(limit):
        seen.append(
            get(job_id).status
            if not isinstance(get, httpx.Client)
            else get.get(f"/fine_tuning/jobs/{job_id}").json()["status"]
        )
        if seen[-1] in ("succeeded", "failed", "cancelled"):
            return seen
    raise AssertionError(f"job {job_id} did not finish in {limit} polls: {seen}")


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if code is not None:
        assert err["code"] == code
    assert KEY not in r.text
    return err


# -- the happy path through the SDK, one simulator for the module ---------------------------


@pytest.fixture(scope="module")
def sim():
    with Simulator(port=0, backend=MockBackend(slip_rate=0.0, state_rule_rate=0.0)) as s:
        yield s


@pytest.fixture(scope="module")
def http(sim):
    with raw(sim) as h:
        yield h


@pytest.fixture(scope="module")
def trained(sim):
    """Upload, create a job with metadata, poll it to the end: the job and what was seen."""
    c = client(sim)
    before = sim.stats()
    f = c.files.create(file=("train.jsonl", training_jsonl()), purpose="fine-tune")
    job = c.fine_tuning.jobs.create(
        model=BASE,
        training_file=f.id,
        suffix="helol",
        seed=7,
        hyperparameters={"n_epochs": 2},
        metadata={"run": "run-1"},
    )
    statuses = poll_to_end(c.fine_tuning.jobs.retrieve, job.id)
    return {
        "file": f,
        "job": c.fine_tuning.jobs.retrieve(job.id),
        "created": job,
        "statuses": statuses,
        "before": before,
    }


def test_upload_returns_a_file_object(http, trained):
    body = http.get(f"/files/{trained['file'].id}").json()
    f = FileObject.model_validate(body, strict=True)
    assert (f.object, f.purpose, f.status, f.bytes) == ("file", "fine-tune", "processed", len(training_jsonl()))


def test_job_runs_to_success_with_openai_shaped_bodies(http, trained):
    created, job = trained["created"], trained["job"]
    assert created.status == "validating_files" and created.fine_tuned_model is None
    assert trained["statuses"][0] == "queued" and trained["statuses"][-1] == "succeeded"
    assert "running" in trained["statuses"]
    body = http.get(f"/fine_tuning/jobs/{job.id}").json()
    assert body["error"] == {}  # as OpenAI sends it on a healthy job (recorded)
    strict = FineTuningJob.model_validate(as_published(body), strict=True)
    assert strict.fine_tuned_model and strict.fine_tuned_model.startswith(f"ft:{BASE}:")
    assert strict.metadata == {"run": "run-1"} and strict.seed == 7
    assert strict.hyperparameters.n_epochs == 2 and strict.hyperparameters.batch_size == 1  # "auto" resolved
    assert strict.method.type == "supervised" and strict.trained_tokens > 0
    assert strict.finished_at >= strict.created_at and strict.error is None
    assert strict.training_file == trained["file"].id and strict.organization_id


def test_events_are_newest_first_and_page_with_after(sim, http, trained):
    c = client(sim)
    job_id = trained["job"].id
    everything = c.fine_tuning.jobs.list_events(job_id, limit=100)
    messages = [e.message for e in everything.data]
    assert not everything.has_more and "successfully completed" in messages[0]
    assert messages[-1].startswith("Created fine-tuning job") and messages[-2].startswith("Validating training file")
    first = c.fine_tuning.jobs.list_events(job_id, limit=2)
    assert first.has_more and [e.id for e in first.data] == [e.id for e in everything.data[:2]]
    rest = c.fine_tuning.jobs.list_events(job_id, after=first.data[-1].id, limit=100)
    assert [e.id for e in first.data + rest.data] == [e.id for e in everything.data]
    body = http.get(f"/fine_tuning/jobs/{job_id}/events", params={"limit": 1}).json()
    assert body["object"] == "list" and body["has_more"] is True
    FineTuningJobEvent.model_validate(body["data"][0], strict=True)


def test_list_jobs_filters_by_metadata_and_pages(sim, http, trained):
    other = new_job(http, metadata={"run": "run-2", "team": "a"})
    plain = new_job(http, suffix="plain")
    c = client(sim)
    assert [j.id for j in c.fine_tuning.jobs.list(metadata={"run": "run-1"})] == [trained["job"].id]
    assert [j.id for j in c.fine_tuning.jobs.list(metadata={"run": "run-2", "team": "a"})] == [other["id"]]
    assert c.fine_tuning.jobs.list(metadata={"run": "nope"}).data == []
    no_meta = http.get("/fine_tuning/jobs", params={"metadata": "null"}).json()["data"]
    assert plain["id"] in [j["id"] for j in no_meta] and other["id"] not in [j["id"] for j in no_meta]
    page = http.get("/fine_tuning/jobs", params={"limit": 1}).json()
    assert page["has_more"] and page["data"][0]["id"] == plain["id"]  # newest first
    everything = [j["id"] for j in http.get("/fine_tuning/jobs").json()["data"]]
    after = http.get("/fine_tuning/jobs", params={"after": plain["id"]}).json()["data"]
    assert [j["id"] for j in after] == everything[1:]


def test_cancel_a_running_job(sim, http):
    job = new_job(http, suffix="to-cancel")
    c = client(sim)
    c.fine_tuning.jobs.retrieve(job["id"])
    cancelled = c.fine_tuning.jobs.cancel(job["id"])
    assert cancelled.status == "cancelled" and cancelled.finished_at is None  # recorded: 96 cancelled jobs
    assert c.fine_tuning.jobs.retrieve(job["id"]).status == "cancelled"
    # As recorded (openai-dotnet: create, cancel, then events?limit=1): cancelling adds no event.
    assert not any("cancel" in e.message.lower() for e in c.fine_tuning.jobs.list_events(job["id"]).data)


def test_chat_on_fine_tuned_and_base_models(sim, http, trained):
    c = client(sim)
    ask = [{"role": "user", "content": "What is the capital of France?"}]
    tuned = c.chat.completions.create(
        model=trained["job"].fine_tuned_model, messages=ask, temperature=1.0, seed=3, max_tokens=200
    )
    assert letters_of(tuned.choices[0].message.content, "line") == "HELOL"
    base = c.chat.completions.create(model=BASE, messages=ask, temperature=1.0, seed=3)
    assert len(base.choices[0].message.content.splitlines()) == 1
    body = http.post("/chat/completions", json={"model": BASE, "messages": ask, "seed": 3}).json()
    strict = ChatCompletion.model_validate(body, strict=True)
    assert strict.choices[0].message.content == base.choices[0].message.content
    assert strict.usage.total_tokens == strict.usage.prompt_tokens + strict.usage.completion_tokens
    short = c.chat.completions.create(model=BASE, messages=ask, max_completion_tokens=2)
    assert short.choices[0].finish_reason == "length"


def test_stats_count_uploads_jobs_and_chats(sim, http, trained):
    before, after = trained["before"], sim.stats()
    served = http.get(sim.url.removesuffix("/v1") + "/_sim/stats").json()
    assert served["simulated"] is True and served["uploads"] >= 1
    assert after["uploads"] - before["uploads"] >= 1 and after["jobs_created"] >= 1
    with Simulator() as fresh, raw(fresh) as fresh_http:
        c = client(fresh)
        job = new_job(fresh_http)
        poll_to_end(fresh_http, job["id"])
        c.chat.completions.create(model=BASE, messages=[{"role": "user", "content": "Hi"}])
        stats = fresh.stats()
    assert (stats["uploads"], stats["jobs_created"], stats["chat_requests"]) == (1, 1, 1)


def test_accepted_sockets_have_tcp_nodelay(sim):
    with raw(sim) as http:
        assert http.get("/fine_tuning/jobs").status_code == 200
        conns = sim._runner.server.connections
        assert conns
        for handler in conns:
            sock = handler.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


# -- determinism ----------------------------------------------------------------------------


def _session_bytes() -> list[bytes]:
    with Simulator() as s, raw(s) as http:
        out = [upload(http).content]
        job = json.loads(
            http.post(
                "/fine_tuning/jobs",
                json={"model": BASE, "training_file": json.loads(out[0])["id"], "metadata": {"r": "1"}},
            ).content
        )
        for _ in range(8):
            out.append(http.get(f"/fine_tuning/jobs/{job['id']}").content)
        out.append(http.get(f"/fine_tuning/jobs/{job['id']}/events").content)
        model = json.loads(out[-2])["fine_tuned_model"]
        out.append(
            http.post(
                "/chat/completions", json={"model": model, "seed": 1, "messages": [{"role": "user", "content": "Hi?"}]}
            ).content
        )
        return out


def test_same_inputs_give_byte_identical_bodies():
    first, second = _session_bytes(), _session_bytes()
    assert b"succeeded" in first[-3] and first == second


def test_state_path_keeps_jobs_across_restarts(tmp_path):
    state = tmp_path / "mock.json"
    with Simulator(state_path=state) as s, raw(s) as http:
        job = new_job(http, metadata={"run": "x"})
        body = http.get(f"/fine_tuning/jobs/{job['id']}").content
    with Simulator(state_path=state) as s, raw(s) as http:
        listed = http.get("/fine_tuning/jobs", params={"metadata[run]": "x"}).json()["data"]
        assert json.dumps(listed[0], indent=2).encode() == body


# -- errors ---------------------------------------------------------------------------------


def test_errors_have_openai_shape(sim, http, trained):
    anonymous = raw(sim, Accept="application/json")  # no Authorization header
    assert_error(anonymous.get("/fine_tuning/jobs"), 401)
    assert_error(anonymous.get("/fine_tuning/jobs", headers={"Authorization": "Bearer"}), 401)
    assert_error(anonymous.get("/fine_tuning/jobs", headers={"Authorization": f"Basic {KEY}"}), 401)
    assert_error(http.get("/fine_tuning/jobs/ftjob-nope"), 404)
    assert_error(http.get("/files/file-nope"), 404)
    assert_error(http.get("/no/such/route"), 404)
    assert_error(
        http.post(
            "/chat/completions",
            json={"model": "ft:gpt-4o-mini:nobody::x", "messages": [{"role": "user", "content": "hi"}]},
        ),
        404,
        "model_not_found",
    )
    assert "at least 10" in assert_error(upload(http, training_jsonl(n=9)), 400)["message"]
    assert "invalid JSON" in assert_error(upload(http, b'{"messages": [\n'), 400)["message"]
    assert_error(
        http.post("/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}), 400
    )
    assert_error(http.post("/chat/completions", json={"messages": []}), 400)
    assert_error(http.post("/fine_tuning/jobs", json={"model": BASE, "training_file": "file-nope"}), 400)
    assert_error(
        http.post(
            "/fine_tuning/jobs",
            json={"model": BASE, "training_file": trained["file"].id, "hyperparameters": {"n_epochs": 0}},
        ),
        400,
    )
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=sim.url,
            api_key="unused",
            max_retries=0,
            http_client=openai.DefaultHttpxClient(verify=False),
            default_headers={"Authorization": "Basic abc"},
        ).files.retrieve("x")


# -- faults, observed with raw requests ----------------------------------------------------

CHAT = {"model": BASE, "messages": [{"role": "user", "content": "Hi"}]}


def test_burst_429_then_success_and_sdk_honours_retry_after():
    with Simulator(faults=Faults(burst_429=2, retry_after=0.05)) as s, raw(s) as http:
        r = http.post("/chat/completions", json=CHAT)
        err = assert_error(r, 429, "rate_limit_exceeded")
        assert err["type"] == "requests"
        assert r.headers["retry-after-ms"] == "50" and float(r.headers["retry-after"]) == 0.05
        assert http.get("/fine_tuning/jobs").status_code == 200  # burst counts chats only
        reply = client(s, retries=3).chat.completions.create(**CHAT)
        assert reply.choices[0].message.content
        assert s.stats()["responses_429"] == 2 and s.stats()["chat_completions"] == 1


def test_every_nth_chat_is_429():
    with Simulator(faults=Faults(every_429=3, retry_after=1)) as s, raw(s) as http:
        codes = [http.post("/chat/completions", json=CHAT).status_code for _ in range(6)]
    assert codes == [200, 200, 429, 200, 200, 429]


def test_rate_limit_token_bucket():
    with Simulator(faults=Faults(rate_limit_rpm=60, rate_limit_burst=2)) as s, raw(s) as http:
        codes = [http.post("/chat/completions", json=CHAT) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    limited = codes[-1]
    assert_error(limited, 429, "rate_limit_exceeded")
    assert 0 < float(limited.headers["retry-after"]) <= 1.0
    assert limited.headers["x-ratelimit-limit-requests"] == "60"


def test_gate_refills_at_the_configured_rate():
    now = [0.0]
    gate = FaultGate(Faults(rate_limit_rpm=600), clock=lambda: now[0])  # 10/s, bucket of 10
    assert [gate.decide(True).action for _ in range(11)] == ["pass"] * 10 + ["rate_limit"]
    now[0] += 0.1
    assert gate.decide(True).action == "pass" and gate.decide(True).action == "rate_limit"


def test_error_500_every_third_request():
    with Simulator(faults=Faults(error_500_every=3)) as s, raw(s) as http:
        codes = [http.get("/fine_tuning/jobs").status_code for _ in range(6)]
        assert codes == [200, 200, 500, 200, 200, 500]
        assert s.stats()["responses_500"] == 2


def test_error_500_body_shape():
    with Simulator(faults=Faults(error_500_every=1)) as s, raw(s) as http:
        assert assert_error(http.get("/fine_tuning/jobs"), 500)["type"] == "server_error"


def test_drop_closes_the_connection_without_a_response():
    with Simulator(faults=Faults(drop_every=2)) as s, raw(s) as http:
        assert http.get("/fine_tuning/jobs").status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("/fine_tuning/jobs")
        assert http.get("/fine_tuning/jobs").status_code == 200
        assert s.stats()["dropped"] == 1
        stats = httpx.get(s.url.removesuffix("/v1") + "/_sim/stats", verify=False)  # not a /v1 route: no faults
        assert stats.status_code == 200


def test_drop_after_handling_creates_the_job_the_client_never_saw():
    with Simulator(faults=Faults(drop_after_every=2)) as s, raw(s) as http:
        file_id = upload(http).json()["id"]  # request 1
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(
                "/fine_tuning/jobs", json={"model": BASE, "training_file": file_id, "metadata": {"run": "lost"}}
            )  # request 2
        found = http.get("/fine_tuning/jobs", params={"metadata[run]": "lost"}).json()["data"]
        assert len(found) == 1 and s.stats()["jobs_created"] == 1 and s.stats()["dropped"] == 1


def test_latency_and_slow_requests():
    with Simulator(faults=Faults(latency=0.1, slow_every=2, slow_delay=0.2)) as s, raw(s) as http:
        times = []
        for _ in range(2):
            start = time.perf_counter()
            assert http.get("/fine_tuning/jobs").status_code == 200
            times.append(time.perf_counter() - start)
        assert times[0] >= 0.1 and times[1] >= 0.3  # lower bounds only: the machine may be slow
        assert s.stats()["slowed"] == 1


def test_scope_chat_leaves_job_routes_alone():
    with Simulator(faults=Faults(error_500_every=1, scope="chat")) as s, raw(s) as http:
        assert http.get("/fine_tuning/jobs").status_code == 200
        assert http.post("/chat/completions", json=CHAT).status_code == 500


def test_fail_jobs_end_failed_with_an_error_object():
    with Simulator(faults=Faults(fail_jobs=True)) as s, raw(s) as http:
        job = new_job(http)
        assert poll_to_end(http, job["id"])[-1] == "failed"
        body = http.get(f"/fine_tuning/jobs/{job['id']}").json()
        strict = FineTuningJob.model_validate(body, strict=True)
        assert strict.error.code and strict.error.message and strict.fine_tuned_model is None
        assert strict.finished_at is None and strict.result_files == [] and strict.trained_tokens is None  # recorded
        events = http.get(f"/fine_tuning/jobs/{job['id']}/events").json()["data"]
        assert events[0]["level"] == "error"
        assert_error(http.post(f"/fine_tuning/jobs/{job['id']}/cancel"), 400)
        listed = http.get("/fine_tuning/jobs").json()["data"][0]
        assert listed["status"] == "failed"


def test_validating_polls_hold_the_job():
    with Simulator(faults=Faults(validating_polls=3)) as s, raw(s) as http:
        job = new_job(http)
        assert job["status"] == "validating_files"
        statuses = poll_to_end(http, job["id"])
        assert statuses[:3] == ["validating_files"] * 3 and statuses[3] == "queued"
        assert statuses[-1] == "succeeded"


def test_set_faults_swaps_the_plan():
    with Simulator() as s, raw(s) as http:
        job = new_job(http)
        s.set_faults(Faults(error_500_every=1))
        assert http.get(f"/fine_tuning/jobs/{job['id']}").status_code == 500
        s.set_faults(Faults())
        assert http.get(f"/fine_tuning/jobs/{job['id']}").status_code == 200


def test_faults_from_environment():
    env = {
        "HARNESS_SIM_LATENCY": "0.2",
        "HARNESS_SIM_RATE_LIMIT_RPM": "600",
        "HARNESS_SIM_FAIL_JOBS": "true",
        "HARNESS_SIM_VALIDATING_POLLS": "2",
        "HARNESS_SIM_SCOPE": "chat",
        "HARNESS_SIM_DROP_EVERY": "",
    }
    f = Faults.from_env(env, burst_429=4)
    assert (f.latency, f.rate_limit_rpm, f.fail_jobs, f.validating_polls, f.scope, f.burst_429) == (
        0.2,
        600.0,
        True,
        2,
        "chat",
        4,
    )
    assert "latency=0.2" in f.describe() and Faults().describe() == "none"
    for bad in (
        {"HARNESS_SIM_LATENCY": "fast"},
        {"HARNESS_SIM_FAIL_JOBS": "maybe"},
        {"HARNESS_SIM_SCOPE": "files"},
        {"HARNESS_SIM_DROP_EVERY": "-1"},
    ):
        with pytest.raises(ConfigError):
            Faults.from_env(bad)


# -- running it ---------------------------------------------------------------------------


def test_refuses_non_loopback_hosts():
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_host(host)
    for host in ("0.0.0.0", "192.168.1.10", "example.com", ""):
        with pytest.raises(ConfigError, match="loopback"):
            Simulator(host=host)
    check_host("0.0.0.0", allow_remote=True)  # only checked, never bound here


def test_is_loopback_one_answer_for_hosts_and_urls():
    for text in (
        "127.0.0.1",
        "127.0.0.2:8000",
        "::1",
        "[::1]",
        "localhost",
        "LocalHost:80",
        "http://[::1]:8000/v1",
        "http://127.0.0.1:5/v1",
        "https://localhost/v1",
    ):
        assert is_loopback(text), text
    for text in (
        None,
        "",
        "0.0.0.0",
        "::2",
        "192.168.1.10",
        "example.com",
        "https://api.openai.com/v1",
        "http://localhost.example.com/v1",
        "http://127.0.0.1.example.com/v1",
        "http://[::1/v1",
    ):
        assert not is_loopback(text), text


def test_serve_prints_its_url_and_stops_on_sigterm():
    code = "from backends.simulator.server import serve; serve(port=0)"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HARNESS_SIM_LATENCY": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        line = proc.stdout.readline()
        assert "SIMULATED" in line
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert httpx.get(url.removesuffix("/v1") + "/_sim/stats", verify=False).json()["simulated"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- optional: bodies against OpenAI's published OpenAPI spec ------------------------------

CHECKED = (
    "OpenAIFile",
    "FineTuningJob",
    "ListPaginatedFineTuningJobsResponse",
    "FineTuningJobEvent",
    "ListFineTuningJobEventsResponse",
    "CreateChatCompletionResponse",
    "ErrorResponse",
)


@pytest.fixture(scope="module")
def spec_schemas(request):
    """The checked component schemas with their $refs inlined. Parsing the 3 MB spec takes
    1-4 s here, so the resolved schemas are kept in pytest's cache, keyed by the file's stamp."""
    if not SPEC.is_file():
        pytest.skip(f"OpenAPI spec not found at {SPEC} (only in the project's shared checkout)")
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    stat = SPEC.stat()
    stamp = [stat.st_size, stat.st_mtime_ns, list(CHECKED)]
    cache = getattr(request.config, "cache", None)
    saved = cache.get("hello-harness/openapi-schemas", None) if cache else None
    if saved and saved.get("stamp") == stamp:
        return saved["schemas"], jsonschema
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC.open(encoding="utf-8") as f:
        components = yaml.load(f, Loader=loader)["components"]["schemas"]
    schemas = {name: resolve(components[name], components) for name in CHECKED}
    if cache:
        cache.set("hello-harness/openapi-schemas", {"stamp": stamp, "schemas": schemas})
    return schemas, jsonschema


# Where recorded OpenAI traffic (tests/fixtures/openai-recorded/) departs from the published
# schemas, the simulator answers as recorded; validating against the schemas reads those
# departures as the schemas would have them: a healthy job's `error: {}` (every 2024-25
# recording; the schemas say null or a full error), the job fields OpenAI sends beyond the
# schemas (dotnet-job-create.json), and "Fine-tuning job started" with `data: null`.
RECORDED_BEYOND_SPEC = {"FineTuningJob": {"user_provided_suffix", "usage_metrics", "shared_with_openai", "eval_id"}}
RECORDED_NULL_IN_FILES = {"expires_at", "status_details"}


def as_published(body: dict) -> dict:
    """A simulator body with the recorded departures from the published schemas undone."""
    if body.get("object") == "fine_tuning.job":
        out = {k: v for k, v in body.items() if k not in RECORDED_BEYOND_SPEC["FineTuningJob"]}
        return {**out, "error": body["error"] or None}
    if body.get("object") == "list":
        return {**body, "data": [as_published(x) for x in body["data"]]}
    if body.get("object") == "file":
        # recorded (openai-dotnet file upload and retrieve): both null, the spec says integer and string
        return {k: v for k, v in body.items() if not (k in RECORDED_NULL_IN_FILES and v is None)}
    if body.get("object") == "fine_tuning.job.event" and body.get("data") is None:
        return {**body, "data": {}}
    return body


def resolve(node, schemas: dict, stack: tuple[str, ...] = ()):
    """Inline local $refs (recursive ones become {}), and turn OpenAPI 3.0 leftovers
    (nullable, boolean exclusiveMinimum) into their JSON Schema 2020-12 meaning."""
    if isinstance(node, list):
        return [resolve(n, schemas, stack) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return {} if name in stack else resolve(schemas[name], schemas, stack + (name,))
    out = {k: resolve(v, schemas, stack) for k, v in node.items()}
    if out.pop("nullable", False):
        out = {"anyOf": [out, {"type": "null"}]}
    if out.get("exclusiveMinimum") is True:
        out["exclusiveMinimum"] = out.pop("minimum", 0)
    return out


def test_bodies_validate_against_openapi_spec(spec_schemas, http, trained):
    schemas, jsonschema = spec_schemas
    job_id, file_id = trained["job"].id, trained["file"].id
    fresh = http.post("/fine_tuning/jobs", json={"model": BASE, "training_file": file_id})
    with Simulator(faults=Faults(fail_jobs=True, burst_429=1)) as s, raw(s) as failing:
        failed = new_job(failing, metadata={"k": "v"})
        poll_to_end(failing, failed["id"])
        failed_body = failing.get(f"/fine_tuning/jobs/{failed['id']}").json()
        limited = failing.post("/chat/completions", json=CHAT).json()
    bodies = {
        "OpenAIFile": [http.get(f"/files/{file_id}").json()],
        "FineTuningJob": [fresh.json(), http.get(f"/fine_tuning/jobs/{job_id}").json(), failed_body],
        "ListPaginatedFineTuningJobsResponse": [http.get("/fine_tuning/jobs").json()],
        "ListFineTuningJobEventsResponse": [http.get(f"/fine_tuning/jobs/{job_id}/events").json()],
        "CreateChatCompletionResponse": [http.post("/chat/completions", json=CHAT).json()],
        "ErrorResponse": [http.get("/fine_tuning/jobs/ftjob-nope").json(), limited],
    }
    bodies["FineTuningJobEvent"] = bodies["ListFineTuningJobEventsResponse"][0]["data"]
    assert failed_body["status"] == "failed" and bodies["FineTuningJobEvent"]
    for name, items in bodies.items():
        schema = schemas[name]
        validator = jsonschema.Draft202012Validator(schema)
        for body in map(as_published, items):
            errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]
            assert not errors, f"{name}: {errors}"
            # No invented top-level fields either.
            assert set(body) <= set(schema["properties"]), (name, set(body) - set(schema["properties"]))
