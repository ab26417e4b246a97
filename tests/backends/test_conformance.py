"""The simulator answers as real OpenAI answered, by recorded traffic from independent sources
(tests/fixtures/openai-recorded/): each object's keys, types and nullability, list envelopes,
id formats, status sequences (queued included), event wording and order, checkpoints, headers,
and the error shapes. Where the two disagree the recording wins; the differences that remain
are listed, with why, in docs/providers.md ("The simulator against recorded traffic")."""

from __future__ import annotations

import re
from collections import Counter

import httpx
import pytest

from backends.simulator.faults import Faults
from backends.simulator.server import Simulator
from tests.backends import recorded
from tests.backends.recorded import IDS, jobs_in, kind, load, shape
from tests.backends.test_simulator import training_jsonl

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])
ALIAS, SNAPSHOT = "gpt-3.5-turbo", "gpt-3.5-turbo-0125"  # as the 2025 recordings resolved it
STATUS_ORDER = ["validating_files", "queued", "running", "succeeded"]
# Raw job bodies of 2024-25 (the current shape): dotnet's and ruby-openai's latest create.
CURRENT_JOBS = [
    "dotnet-job-create.json",
    "dotnet-job-cancel.json",
    "dotnet-job-create-all-parameters.json",
    "dotnet-jobs-list-100.json",
    "dotnet-jobs-list.json",
    "ruby-job-create.json",
]
# The event messages OpenAI writes, oldest first (recorded 2024-25).
EVENT_KINDS = [
    ("created", r"Created fine-tuning job: ftjob-\S+"),
    ("validating", r"Validating training file: file-\S+( and validation file: file-\S+)?"),
    ("validated", r"Files validated, moving job to queued state"),
    ("started", r"Fine-tuning job started"),
    ("step", r"Step \d+/\d+: training loss=\d+\.\d\d(, validation loss=\d+\.\d\d)?(, full validation loss=\d+\.\d\d)?"),
    ("checkpoint", r"Checkpoint created at step \d+ with Snapshot ID: ft:\S+:ckpt-step-\d+"),
    ("model", r"New fine-tuned model created: ft:\S+"),
    ("done", r"The job has successfully completed"),
]


def event_kind(message: str) -> str | None:
    return next((name for name, pattern in EVENT_KINDS if re.fullmatch(pattern, message)), None)


@pytest.fixture(scope="module")
def sim_bodies():
    """One session against the simulator, every body a test below compares, with headers."""
    out: dict[str, httpx.Response] = {}
    with Simulator(port=0) as sim, httpx.Client(base_url=sim.url, headers={"Authorization": "Bearer sk-x"}) as http:
        out["upload"] = http.post(
            "/files", data={"purpose": "fine-tune"}, files={"file": ("t.jsonl", training_jsonl())}
        )
        file_id = out["upload"].json()["id"]
        out["file"] = http.get(f"/files/{file_id}")
        body = {"model": ALIAS, "training_file": file_id, "suffix": "helol", "metadata": {"run": "r"}}
        out["create"] = http.post("/fine_tuning/jobs", json=body)
        job_id = out["create"].json()["id"]
        out["events_at_creation"] = http.get(f"/fine_tuning/jobs/{job_id}/events")
        polls = []
        while not polls or polls[-1].json()["status"] not in ("succeeded", "failed", "cancelled"):
            polls.append(http.get(f"/fine_tuning/jobs/{job_id}"))
        out["running"] = next(p for p in polls if p.json()["status"] == "running")
        out["succeeded"] = polls[-1]
        out["statuses"] = [out["create"].json()["status"]] + [p.json()["status"] for p in polls]  # type: ignore[assignment]
        out["events"] = http.get(f"/fine_tuning/jobs/{job_id}/events", params={"limit": 100})
        out["events_limit_1"] = http.get(f"/fine_tuning/jobs/{job_id}/events", params={"limit": 1})
        out["checkpoints"] = http.get(f"/fine_tuning/jobs/{job_id}/checkpoints")
        chosen = {"n_epochs": 1, "batch_size": 2, "learning_rate_multiplier": 3}
        out["create_given"] = http.post(
            "/fine_tuning/jobs",
            json={
                "model": ALIAS,
                "training_file": file_id,
                "suffix": "TestFTJob",
                "seed": 1234567,
                "hyperparameters": chosen,
            },
        )
        out["cancelled"] = http.post(f"/fine_tuning/jobs/{out['create_given'].json()['id']}/cancel")
        sim.set_faults(Faults(invalid_training_file=True))
        bad = http.post("/fine_tuning/jobs", json={"model": ALIAS, "training_file": file_id}).json()["id"]
        out["failed"] = http.get(f"/fine_tuning/jobs/{bad}")
        out["failed_events"] = http.get(f"/fine_tuning/jobs/{bad}/events")
        out["list"] = http.get("/fine_tuning/jobs")
        sim.set_faults(Faults(max_active_jobs=1))
        http.post("/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file_id})
        out["429_active"] = http.post("/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file_id})
        sim.set_faults(Faults(max_active_jobs=0, daily_job_limit=1))
        http.post("/fine_tuning/jobs", json={"model": "gpt-4.1-2025-04-14", "training_file": file_id})
        out["429_daily"] = http.post(
            "/fine_tuning/jobs", json={"model": "gpt-4.1-2025-04-14", "training_file": file_id}
        )
        sim.set_faults(Faults())
        out["400_model"] = http.post("/fine_tuning/jobs", json={"model": "gpt-nonexistent", "training_file": file_id})
        out["400_file"] = http.post("/fine_tuning/jobs", json={"model": ALIAS, "training_file": "Invalid File Name"})
        out["404_job"] = http.get("/fine_tuning/jobs/123")
        out["404_file"] = http.get("/files/fake_id")
        bad_purpose = {"purpose": "world_domination"}
        out["400_purpose"] = http.post("/files", data=bad_purpose, files={"file": ("t.jsonl", training_jsonl())})
        chat = {"model": ALIAS, "messages": [{"role": "user", "content": "Hello!"}]}
        out["chat"] = http.post("/chat/completions", json=chat)
        tuned = out["succeeded"].json()["fine_tuned_model"]
        out["chat_tuned"] = http.post("/chat/completions", json={**chat, "model": tuned})
        sim.set_faults(Faults(burst_429=1, no_retry_after=True))
        out["429_chat"] = http.post("/chat/completions", json=chat)
        sim.set_faults(Faults(insufficient_quota=True))
        out["429_quota"] = http.post("/chat/completions", json=chat)
        sim.set_faults(Faults(invalid_api_key=True))
        out["401"] = http.post("/chat/completions", json=chat)
        out["delete"] = http.delete(f"/files/{file_id}")  # 401 too: the key is refused everywhere
        sim.set_faults(Faults())
        out["delete"] = http.delete(f"/files/{file_id}")
    return out


def test_the_recordings_come_from_at_least_three_independent_sources():
    used = Counter(recorded.source(n) for n in recorded.names())
    assert len(used) >= 3, used
    assert all(
        load(n)["provenance"].count("\n") == 0 and " @ " in load(n)["provenance"] or n.startswith("issue")
        for n in recorded.names()
    )


# -- the job object ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", CURRENT_JOBS + ["issue-job-create-gpt-4o.json"])
def test_job_keys_types_and_nullability_as_recorded(name, sim_bodies):
    sim = {s: sim_bodies[s].json() for s in ("create", "running", "succeeded", "cancelled", "failed")}
    by_status = {b["status"]: b for b in sim.values()}
    for real in jobs_in(name):
        ours = by_status[real["status"]]
        assert set(ours) >= set(real), (real["status"], set(real) - set(ours))
        for key, value in real.items():
            if key in ("validation_file", "metadata", "user_provided_suffix"):  # null or a value, as asked
                continue
            assert kind(ours[key]) == kind(value), (real["status"], key, ours[key], value)
        if real["status"] != "failed":
            assert real["error"] == {} and ours["error"] == {}
        assert ours["estimated_finish"] is None and real["estimated_finish"] is None
    # No key the recordings never showed.
    assert set(sim["succeeded"]) == set(load("dotnet-job-create.json")["body"])


def test_a_job_at_each_status_carries_what_openai_sends(sim_bodies):
    created, running, done = (sim_bodies[s].json() for s in ("create", "running", "succeeded"))
    cancelled, failed = sim_bodies["cancelled"].json(), sim_bodies["failed"].json()
    real = {j["status"]: j for n in CURRENT_JOBS for j in jobs_in(n)}
    for ours in (created, running, cancelled, failed):
        assert ours["result_files"] == [] and ours["trained_tokens"] is None and ours["fine_tuned_model"] is None
        assert ours["finished_at"] is None  # recorded: null for cancelled (96 jobs) and failed jobs too
    for status in ("cancelled", "failed"):
        assert real[status]["finished_at"] is None and real[status]["result_files"] == []
    assert len(done["result_files"]) == 1 and IDS["file"].match(done["result_files"][0])
    assert isinstance(done["trained_tokens"], int) and done["finished_at"] >= done["created_at"]
    assert real["succeeded"]["trained_tokens"] > 0 and len(real["succeeded"]["result_files"]) == 1
    # Hyperparameters: "auto" until the job runs, then the numbers used; given ones as given.
    assert created["hyperparameters"] == load("dotnet-job-create.json")["body"]["hyperparameters"]
    assert all(kind(v) == "number" for v in running["hyperparameters"].values())
    running_real = [j for j in jobs_in("langnostic-job-statuses.json") if j["status"] == "running"][0]
    assert running["hyperparameters"] == running_real["hyperparameters"]  # n_epochs 3, batch 1, multiplier 2
    given_real = load("dotnet-job-create-all-parameters.json")["body"]
    given = sim_bodies["create_given"].json()
    assert given["hyperparameters"] == given_real["hyperparameters"]  # 3 came back as 3.0
    assert given["method"] == given_real["method"] | {"supervised": given["method"]["supervised"]}
    assert given["user_provided_suffix"] == given_real["user_provided_suffix"] == "TestFTJob"
    # The error object: {} when healthy, code/param/message on failure (recorded codes).
    assert set(failed["error"]) == set(real["failed"]["error"]) == {"code", "param", "message"}
    recorded_failure = jobs_in("langnostic-job-failed-invalid-training-file.json")[0]["error"]
    assert (failed["error"]["code"], failed["error"]["param"]) == (recorded_failure["code"], recorded_failure["param"])


def test_the_model_is_the_resolved_snapshot_and_ids_have_openais_formats(sim_bodies):
    real = load("dotnet-job-create.json")
    assert real["request"]["body"]["model"] == ALIAS and real["body"]["model"] == SNAPSHOT
    done = sim_bodies["succeeded"].json()
    assert sim_bodies["create"].json()["model"] == done["model"] == SNAPSHOT
    assert done["fine_tuned_model"].startswith(f"ft:{SNAPSHOT}:")
    for name in CURRENT_JOBS + [
        "ruby-jobs-list.json",
        "qtran-job-lifecycle.json",
        "langnostic-job-statuses.json",
        "issue-job-succeeded-2023.json",  # an organization's slug in the model id
    ]:
        for job in jobs_in(name):
            assert IDS["job"].match(job["id"]) and IDS["file"].match(job["training_file"])
            assert job["fine_tuned_model"] is None or IDS["model"].match(job["fine_tuned_model"]), job[
                "fine_tuned_model"
            ]
    assert IDS["job"].match(done["id"]) and IDS["model"].match(done["fine_tuned_model"])
    assert IDS["file"].match(done["training_file"]) and done["organization_id"].startswith("org-")


def test_status_sequences_include_queued_in_openais_order(sim_bodies):
    ours = list(dict.fromkeys(sim_bodies["statuses"]))
    assert ours == STATUS_ORDER
    for name in ("langnostic-job-statuses.json", "qtran-job-lifecycle.json"):
        theirs = list(dict.fromkeys(load(name)["statuses"]))
        assert [s for s in ours if s in theirs] == theirs  # every recorded sequence fits ours
    # queued was never caught in a GET, but the recorded event says the job moves to it.
    assert any(
        e["message"] == "Files validated, moving job to queued state"
        for e in load("langnostic-job-events.json")["body"]["data"]
    )


# -- lists, events, checkpoints -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,ours",
    [
        ("dotnet-jobs-list.json", "list"),
        ("ruby-jobs-list.json", "list"),
        ("dotnet-job-events-limit-1.json", "events_limit_1"),
        ("qtran-job-events-newest-first.json", "events"),
        ("langnostic-job-events.json", "events"),
        ("dotnet-job-checkpoints.json", "checkpoints"),
        ("qtran-job-checkpoints.json", "checkpoints"),
    ],
)
def test_list_envelopes(name, ours, sim_bodies):
    real, mine = load(name)["body"], sim_bodies[ours].json()
    assert set(mine) == set(real), set(mine) ^ set(real)  # events and jobs: no first_id; checkpoints: with it
    assert kind(mine["has_more"]) == "bool"
    if name == "dotnet-job-events-limit-1.json":
        assert real["has_more"] is mine["has_more"] is True and len(real["data"]) == len(mine["data"]) == 1


@pytest.mark.parametrize(
    "name",
    [
        "qtran-job-events-newest-first.json",
        "langnostic-job-events.json",
        "qtran-job-events-at-creation.json",
        "dotnet-job-events-limit-1.json",
    ],
)
def test_events_are_newest_first_with_openais_words_and_metrics(name, sim_bodies):
    real = load(name)["body"]["data"]
    ours = sim_bodies["events"].json()["data"]
    for events in (real, ours):
        times = [e["created_at"] for e in events]
        assert times == sorted(times, reverse=True)
        assert all(IDS["event"].match(e["id"]) and e["level"] == "info" for e in events)
        kinds = [event_kind(e["message"]) for e in reversed(events)]
        assert None not in kinds, [e["message"] for e in events]
        order = [k for k, _ in EVENT_KINDS]
        assert [order.index(k) for k in kinds] == sorted(order.index(k) for k in kinds)
    assert set(ours[0]) == set(real[0]) == {"object", "id", "created_at", "level", "message", "data", "type"}
    assert [event_kind(e["message"]) for e in reversed(ours)][:2] == ["created", "validating"]
    for events in (real, ours):
        for e in events:
            if e["type"] == "metrics":
                assert {"step", "train_loss", "total_steps", "train_mean_token_accuracy"} <= set(e["data"])
            else:
                assert e["data"] == {} or (e["data"] is None and e["message"] == "Fine-tuning job started")
    metrics = [e for e in ours if e["type"] == "metrics"]
    real_metrics = [
        e for n in ("qtran-job-events-newest-first.json",) for e in load(n)["body"]["data"] if e["type"] == "metrics"
    ]
    assert metrics and set().union(*(e["data"] for e in metrics)) <= set().union(*(e["data"] for e in real_metrics))


def test_a_failed_jobs_event_is_an_error_with_its_code(sim_bodies):
    """Recorded (openai-php/client#227): the newest event of a job that failed on its file is
    at level error, in the failure's words, with the code and param in its data."""
    real = load("issue-job-events-failed-invalid-n-examples.json")["body"]["data"][0]
    ours = sim_bodies["failed_events"].json()["data"][0]
    error = sim_bodies["failed"].json()["error"]
    for event, code in ((real, "invalid_n_examples"), (ours, error["code"])):
        assert event["level"] == "error" and event["data"] == {"error_code": code, "error_param": "training_file"}
    assert ours["message"] == error["message"] and set(real) <= set(ours)


def test_the_end_of_a_job_as_recorded(sim_bodies):
    """The model's event after the checkpoints' (same second), then "successfully completed"
    (QTRAN, Aug 2024); the job's finished_at is not after its last event."""
    real = load("qtran-job-events-newest-first.json")["body"]["data"]
    ours = sim_bodies["events"].json()["data"]
    for events in (real, ours):
        kinds = [event_kind(e["message"]) for e in events[:4]]
        assert kinds == ["done", "model", "checkpoint", "checkpoint"]
        assert events[1]["created_at"] == events[2]["created_at"] == events[3]["created_at"]
    assert sim_bodies["succeeded"].json()["finished_at"] <= ours[0]["created_at"]


@pytest.mark.parametrize("name", ["dotnet-job-checkpoints.json", "qtran-job-checkpoints.json"])
def test_checkpoints_as_recorded(name, sim_bodies):
    real, ours = load(name)["body"]["data"], sim_bodies["checkpoints"].json()["data"]
    model = sim_bodies["succeeded"].json()["fine_tuned_model"]
    assert len(real) == len(ours) == 3
    for items, final in ((real, real[0]["fine_tuned_model_checkpoint"]), (ours, model)):
        assert [c["object"] for c in items] == ["fine_tuning.job.checkpoint"] * 3
        assert all(IDS["checkpoint"].match(c["id"]) for c in items)  # underscore, unlike ftjob-
        steps = [c["step_number"] for c in items]
        assert steps == sorted(steps, reverse=True) and steps[0] - steps[1] == steps[1] - steps[2]
        assert items[0]["fine_tuned_model_checkpoint"] == final and ":ckpt-step-" not in final
        for c in items[1:]:
            assert c["fine_tuned_model_checkpoint"].endswith(f":ckpt-step-{c['step_number']}")
            assert IDS["model"].match(c["fine_tuned_model_checkpoint"])
    assert set(ours[0]) == set(real[0])
    assert (
        {"step", "train_loss", "train_mean_token_accuracy"}
        <= set(ours[0]["metrics"])
        <= set().union(
            *(
                c["metrics"]
                for n in ("dotnet-job-checkpoints.json", "qtran-job-checkpoints.json")
                for c in load(n)["body"]["data"]
            )
        )
    )


# -- files and chat ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,ours",
    [
        ("dotnet-file-upload.json", "upload"),
        ("dotnet-file-retrieve.json", "file"),
        ("ruby-file-upload.json", "upload"),
        ("dotnet-file-delete.json", "delete"),
        ("ruby-file-delete.json", "delete"),
    ],
)
def test_file_objects(name, ours, sim_bodies):
    real, mine = load(name)["body"], sim_bodies[ours].json()
    assert set(real) <= set(mine) and {k: kind(v) for k, v in real.items()} == {k: kind(mine[k]) for k in real}
    if "status" in real:
        assert real["status"] == mine["status"] == "processed"  # already in the upload's answer (2024+)


@pytest.mark.parametrize(
    "name,ours",
    [
        ("ruby-chat-completion.json", "chat"),
        ("dotnet-chat-completion.json", "chat"),
        ("langnostic-chat-fine-tuned.json", "chat_tuned"),
    ],
)
def test_chat_completions(name, ours, sim_bodies):
    fixture = load(name)
    real, mine = fixture["body"], sim_bodies[ours].json()
    assert set(real) - {"system_fingerprint"} <= set(mine)  # later API versions added fields; none is missing
    assert shape(real["usage"]).items() <= shape(mine["usage"]).items()
    assert set(real["choices"][0]) <= set(mine["choices"][0]) | {"logprobs"}
    assert IDS["chat"].match(real["id"]) and mine["id"].startswith("chatcmpl-")
    asked = fixture["request"]["body"]["model"]
    if asked.startswith("ft:"):
        assert real["model"] == asked and mine["model"] == sim_bodies["succeeded"].json()["fine_tuned_model"]
    else:  # an alias is answered by its snapshot
        assert real["model"].startswith(asked + "-") and mine["model"] == SNAPSHOT


def test_headers(sim_bodies):
    """Chat answers carry x-ratelimit-* (Go durations); fine-tuning answers, even a 429, carry
    none and no retry-after; every answer says its API version and request id."""
    from backends.retry import parse_go_duration

    real_chats = [load(n)["headers"] for n in ("ruby-chat-completion.json", "dotnet-chat-completion.json")]
    for headers in (*real_chats, sim_bodies["chat"].headers):
        for limit in ("requests", "tokens"):
            assert parse_go_duration(headers[f"x-ratelimit-reset-{limit}"]) is not None
            assert int(headers[f"x-ratelimit-remaining-{limit}"]) <= int(headers[f"x-ratelimit-limit-{limit}"])
    for name, ours in (("ruby-job-create-429-active-limit.json", "429_active"), ("ruby-job-create.json", "create")):
        for headers in (load(name)["headers"], sim_bodies[ours].headers):
            assert not [h for h in headers if h.lower().startswith(("x-ratelimit", "retry-after"))], name
    for name in recorded.names("dotnet-") + recorded.names("ruby-"):
        headers = load(name)["headers"]
        assert headers.get("openai-version", "2020-10-01") == "2020-10-01"
    for response in (sim_bodies["create"], sim_bodies["chat"], sim_bodies["404_job"]):
        assert response.headers["openai-version"] == "2020-10-01" and response.headers["x-request-id"].startswith(
            "req_"
        )
        assert response.headers["content-type"].startswith("application/json")


# -- errors --------------------------------------------------------------------------------------

ERRORS = [  # (recording, our answer to the same request, the message with its variable parts as patterns)
    (
        "ruby-job-create-429-active-limit.json",
        "429_active",
        r"This fine-tune request has been rate-limited\. Your organization has reached the maximum of \d+ active "
        r"requests \(\d+ running, \d+ pending\) for the model '[\w.\-]+'\.",
    ),
    (
        "issue-job-create-429-daily-limit.json",
        "429_daily",
        r"This fine-tune request has been rate-limited\. Your organization has reached the maximum of (\d+|\[YOUR NUMBER\]) "
        r"fine-tuning requests per day for the model '[\w.\-]+'\.",
    ),
    (
        "dotnet-job-create-400-model-not-available.json",
        "400_model",
        r"Model gpt-nonexistent is not available for fine-tuning or does not exist\.",
    ),
    ("dotnet-job-create-400-invalid-file.json", "400_file", r"invalid training_file: Invalid File Name"),
    ("ruby-job-404.json", "404_job", r"Could not find fine tune: 123"),
    ("dotnet-file-404.json", "404_file", r"No such File object: fake_id"),
    (
        "dotnet-chat-401.json",
        "401",
        r"Incorrect API key provided: \S+\. You can find your API key at https://platform\.openai\.com/account/api-keys\.",
    ),
    (
        "issue-chat-429-insufficient-quota.json",
        "429_quota",
        r"You exceeded your current quota, please check your plan and billing details\..*",
    ),
    ("issue-chat-429-requests-per-day.json", "429_chat", r"Rate limit reached .*Please try again in [\dhms.]+\..*"),
]


@pytest.mark.parametrize("name,ours,message", ERRORS, ids=[e[1] for e in ERRORS])
def test_error_shapes(name, ours, message, sim_bodies):
    fixture, response = load(name), sim_bodies[ours]
    real, mine = fixture["body"], response.json()
    assert response.status_code == fixture["status"]
    assert set(mine) == set(real)  # the files API adds a "detail" sibling (2026)
    assert set(mine["error"]) == set(real["error"]) == {"message", "type", "param", "code"}
    for field in ("type", "param", "code"):
        assert mine["error"][field] == real["error"][field], field
    for body in (real, mine):
        assert re.fullmatch(message, body["error"]["message"], re.S), body["error"]["message"]
    if "detail" in real:
        assert set(mine["detail"]) == set(real["detail"])
