"""What a provider sends is input, checked where it enters (harness/calls/boundary.py). Each
case is a loopback proxy in front of `harness simulate` that rewrites one field, as a proxy,
a self-hosted server or a new provider might; the proxy also removes the simulator's
signature, so the run is priced and capped as a real one. Before, each of these was seen:
a negative trained_tokens made a spend of $-299.99; a negative prompt_tokens crashed the run
with a pydantic traceback; usage of 1/0 let a run pass its cap; usage as a string, 1e300 or
NaN became six retries of a "500", each charged; `"choices": []` was an IndexError traceback,
live and replayed; terminal escapes in events were printed raw."""

import json
import re

import pytest
import yaml

from backends.base import ChatRequest, Completion
from backends.simulator.server import Simulator
from harness.calls.budget import Ledger, Pricer
from harness.domain import tokens
from tests.helpers import ROOT, invoke
from tests.proxy import RewritingProxy

pytestmark = [pytest.mark.allow_hosts(["127.0.0.1"]), pytest.mark.slow]
KEY = "sk-hostile-proxy-Q7z2x9"
FAST = ["--backend", "openai", "--poll-interval", "0", "--replicates", "1", "--seed", "3"]
ESCAPES = "\x1b]0;owned\x07\x1b[31mred\x1b[0m \x1b[2J\rforged: line\x9b1m"


def real(body):
    """The simulator's bodies without its signature: the run is priced like OpenAI."""
    if isinstance(body, dict):
        if "organization_id" in body:
            body["organization_id"] = "org-hostile"
        if "system_fingerprint" in body:
            body["system_fingerprint"] = "fp_hostile"
    return body


def chat_usage(**usage):
    def rewrite(method, path, status, body):
        if path.endswith("/chat/completions") and status == 200:
            body["usage"] = {**body["usage"], **usage} if usage else body.pop("usage")
        return status, real(body)

    return rewrite


def run(tmp_path, monkeypatch, rewrite, *args, scenario=ROOT / "scenarios/helol.yaml", out="run"):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with Simulator() as sim, RewritingProxy(sim.url, rewrite) as proxy:
        result = invoke("run", scenario, *FAST, "--api-base", proxy.url, "--out", tmp_path / out, *args)
        return result, proxy


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "responses.jsonl").read_text().splitlines()]


def assert_no_traceback(result):
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "\x1b" not in result.output


def test_negative_trained_tokens_never_make_spend_negative(tmp_path, monkeypatch):
    def rewrite(method, path, status, body):
        if isinstance(body, dict) and body.get("object") == "fine_tuning.job" and body.get("trained_tokens"):
            body["trained_tokens"] = -99_999_999_999
        return status, real(body)

    result, _ = run(tmp_path, monkeypatch, rewrite, "--samples", "1", "--conditions", "fine_tuned,base")
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    state = json.loads((tmp_path / "run/state.json").read_text())
    job = state["jobs"][0]
    assert job["training_cost"] > 0 and "trained_tokens -99999999999 is not plausible" in job["tokens_note"]
    status = invoke("status", tmp_path / "run")
    spend = float(re.search(r"spend\s+\$([0-9.]+)", status.output).group(1))
    assert spend > 0 and "counted by the harness" in status.output and "1 job(s)" in status.output
    assert "and 1 fine-tuning job(s): counted by the harness" in (tmp_path / "run/report.md").read_text()


@pytest.mark.parametrize("usage", [{"prompt_tokens": -5}, {"prompt_tokens": 1e300}, {"completion_tokens": "many"}])
def test_a_bad_token_count_is_recounted_and_noted_not_a_crash(tmp_path, monkeypatch, usage):
    result, proxy = run(tmp_path, monkeypatch, chat_usage(**usage), "--samples", "2", "--conditions", "base")
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    rows = records(tmp_path / "run")
    assert rows and all(r["status"] == "ok" and r["prompt_tokens"] > 0 for r in rows)
    assert all("not a plausible count" in r["tokens_note"] for r in rows)
    report = (tmp_path / "run/report.md").read_text()
    assert (
        f"| token counts | the provider's counts were not believed for {len(rows)} of {len(rows)} answer(s)" in report
    )
    chats = [s for m, p, s in proxy.seen if p.endswith("/chat/completions")]
    assert len(chats) == len(rows)  # nothing was retried


def test_nan_usage_is_read_from_the_body_not_retried(tmp_path, monkeypatch):
    """litellm cannot fit NaN into its types and calls it a "500"; the body is read instead."""

    def rewrite(method, path, status, body):
        if path.endswith("/chat/completions") and status == 200:
            return status, json.dumps(real(body)).replace('"prompt_tokens": ', '"prompt_tokens": NaN, "x": ', 1)
        return status, real(body)

    result, proxy = run(tmp_path, monkeypatch, rewrite, "--samples", "2", "--conditions", "base")
    assert_no_traceback(result)
    assert result.exit_code == 0 and "retrying" not in result.output, result.output
    rows = records(tmp_path / "run")
    assert all(r["status"] == "ok" and "prompt_tokens nan" in r["tokens_note"] for r in rows)
    assert sum(p.endswith("/chat/completions") for _, p, _ in proxy.seen) == len(rows)


def test_under_reported_usage_is_charged_as_sent_and_got(tmp_path, monkeypatch):
    """A long system prompt reported as 1 prompt token and 0 completion tokens: the spend is
    what was really sent and got (it was about nothing), within the cap."""
    text = (ROOT / "scenarios/helol.yaml").read_text()
    long_prompt = " ".join(["The weather in the valley is mild and the rivers run clear all year."] * 300)
    scenario = tmp_path / "long.yaml"
    scenario.write_text(text.replace("system_prompt: You are", f"system_prompt: {long_prompt} You are", 1))
    args = ["--samples", "3", "--conditions", "base", "--max-cost", "0.05"]
    result, _ = run(tmp_path, monkeypatch, chat_usage(prompt_tokens=1, completion_tokens=0), *args, scenario=scenario)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    rows = records(tmp_path / "run")
    model = rows[0]["model"]
    honest = sum(
        tokens.count_text_tokens(long_prompt, model) * 0.15e-6 + tokens.count_text_tokens(r["text"], model) * 0.6e-6
        for r in rows
    )
    spend = float(re.search(r"spend\s+\$([0-9.]+)", invoke("status", tmp_path / "run").output).group(1))
    assert honest <= spend + 1e-4 <= 0.05, (honest, spend)
    assert all("below our count" in r["tokens_note"] for r in rows)


def test_under_reported_usage_cannot_carry_the_ledger_past_its_cap():
    """Each answer reports 1 prompt token: the ledger charges what it counted, so the call
    that would pass the cap is refused (before: a $0.04 cap let a $0.195 run through)."""
    from backends.prices import openai_price

    ledger = Ledger(0.004, Pricer(openai_price))
    request = ChatRequest(
        model="gpt-4o-mini-2024-07-18", messages=[{"role": "user", "content": "word " * 7000}], max_tokens=10
    )
    answered = 0
    while (ticket := ledger.reserve(request)) is not None:
        used = ledger.charge(ticket, request, Completion(text="Here it is.", model="m", prompt_tokens=1))
        assert used.prompt >= 7000 and "below our count" in (used.note or "")
        answered += 1
    assert answered == 3 and ledger.spent <= 0.004 and "would exceed --max-cost" in ledger.refused


def test_no_choices_is_one_failed_record_live_and_replayed(tmp_path, monkeypatch):
    def rewrite(method, path, status, body):
        if path.endswith("/chat/completions") and status == 200:
            body["choices"] = []
        return status, real(body)

    result, proxy = run(tmp_path, monkeypatch, rewrite, "--samples", "1", "--conditions", "base")
    assert_no_traceback(result)
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: run failed") and "the provider's answer has no choices" in last, result.output
    rows = records(tmp_path / "run")
    assert rows and all(r["status"] == "failed" and r["retryable"] is False for r in rows)
    assert all("has no choices" in r["error"] for r in rows)
    assert sum(p.endswith("/chat/completions") for _, p, _ in proxy.seen) == len(rows)  # never retried
    spend = re.search(r"spend\s+\$([0-9.]+)", invoke("status", tmp_path / "run").output).group(1)
    assert float(spend) == 0.0  # never charged

    # The same answers from a cassette: record a good run, empty its choices, replay it.
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cassette = tmp_path / "c.yaml"
    with Simulator() as sim:
        args = [*FAST, "--samples", "1", "--conditions", "base", "--api-base", sim.url]
        assert (
            invoke(
                "run", ROOT / "scenarios/helol.yaml", *args, "--record", cassette, "--out", tmp_path / "rec"
            ).exit_code
            == 0
        )
    data = yaml.safe_load(cassette.read_text())
    for interaction in data["interactions"]:
        if interaction["request"]["uri"].endswith("/chat/completions"):
            body = json.loads(interaction["response"]["body"]["string"])
            body["choices"] = []
            interaction["response"]["body"]["string"] = json.dumps(body)
    cassette.write_text(yaml.safe_dump(data))
    replayed = invoke(
        "run",
        ROOT / "scenarios/helol.yaml",
        *FAST,
        "--samples",
        "1",
        "--conditions",
        "base",
        "--replay",
        cassette,
        "--out",
        tmp_path / "replayed",
    )
    assert_no_traceback(replayed)
    assert replayed.exit_code == 1 and all(r["status"] == "failed" for r in records(tmp_path / "replayed"))


def test_terminal_escapes_in_events_and_errors_are_cleaned(tmp_path, monkeypatch):
    import backends.retry

    monkeypatch.setattr(backends.retry, "backoff_delay", lambda *a, **k: 0.0)
    first = []

    def rewrite(method, path, status, body):
        if path.endswith("/events") and not first:  # one retryable error: its retry line is printed
            first.append(1)
            return 503, {"error": {"message": ESCAPES + " busy", "type": "server_error"}}
        if path.endswith("/events") and isinstance(body, dict):
            for event in body.get("data", []):
                event["message"] = ESCAPES + event["message"]
        if path.endswith("/chat/completions") and status == 200:
            return 400, {"error": {"message": ESCAPES + " upstream exploded", "type": "invalid_request_error"}}
        return status, real(body)

    result, _ = run(tmp_path, monkeypatch, rewrite, "--samples", "1", "--conditions", "fine_tuned")
    assert_no_traceback(result)
    assert "red forged: line" in result.output and "busy (retry 1 of 6" in result.output, result.output
    for name in ("events.jsonl", "responses.jsonl", "state.json"):
        text = (tmp_path / "run" / name).read_text()
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", json.loads(json.dumps(text))), name
        assert "\\u001b" not in text and "\\r" not in text, name
    events = [json.loads(line)["message"] for line in (tmp_path / "run/events.jsonl").read_text().splitlines()]
    assert events and all(e.startswith("red forged: line") for e in events)
    errors = [r["error"] for r in records(tmp_path / "run")]
    assert errors and all("upstream exploded" in e and "\x1b" not in e for e in errors)


def test_the_teacher_takes_bad_counts_without_a_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with Simulator() as sim, RewritingProxy(sim.url, chat_usage(prompt_tokens=-3, completion_tokens=1e300)) as proxy:
        out = tmp_path / "qzxjv.yaml"
        result = invoke(
            "new",
            "QZXJV",
            "--teacher",
            "gpt-4o-mini-2024-07-18",
            "--examples",
            "3",
            "--api-base",
            proxy.url,
            "--out",
            out,
            "--max-cost",
            "1",
        )
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    assert len(yaml.safe_load(out.read_text())["examples"]) == 3


def test_a_malformed_answer_to_the_teacher_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    def rewrite(method, path, status, body):
        if path.endswith("/chat/completions") and status == 200:
            body["usage"] = "lots"
        return status, real(body)

    with Simulator() as sim, RewritingProxy(sim.url, rewrite) as proxy:
        result = invoke(
            "new",
            "QZXJV",
            "--teacher",
            "gpt-4o-mini-2024-07-18",
            "--examples",
            "3",
            "--api-base",
            proxy.url,
            "--out",
            tmp_path / "q.yaml",
        )
    assert_no_traceback(result)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and [line for line in lines if not line.startswith("plan: ")] == [lines[-1]]
    assert "usage is str, not an object" in lines[-1] and not (tmp_path / "q.yaml").exists()
    assert sum(p.endswith("/chat/completions") for _, p, _ in proxy.seen) <= 4  # one per lane, none retried
