"""Retryability from OpenAI's error code and type, not the HTTP status alone: the errors no
retry can fix stop at once saying what to do; a full set of fine-tuning slots is a
JobLimitReached for the training loop; a 429 waits as long as its answer asks, whether in a
retry-after header, in its message ("Please try again in 1.2s") or in x-ratelimit-reset-*
headers (Go durations)."""

from __future__ import annotations

import pytest

from backends.base import AccountError, BackendError, JobLimitReached
from backends.openai_errors import Answer, classify_answer, suggested_wait
from backends.retry import parse_go_duration

CREATING = "creating the fine-tuning job"
ACTIVE = (
    "This fine-tune request has been rate-limited. Your organization has reached the maximum of 3 active "
    "requests (2 running, 1 pending) for the model 'gpt-3.5-turbo-0613'."
)
DAILY = (
    "This fine-tune request has been rate-limited. Your organization has reached the maximum of 5 fine-tuning "
    "requests per day for the model 'gpt-4.1-2025-04-14'."
)


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("2ms", 0.002),
        ("0s", 0.0),
        ("0", 0.0),
        ("6m0s", 360.0),
        ("1h2m3.5s", 3723.5),
        ("7m12s", 432.0),
        ("1.2s", 1.2),
        ("250us", 0.00025),
        ("1.5", 1.5),  # a bare number: seconds
        ("", None),
        ("-1s", None),
        ("soon", None),
        ("5 s", None),
        ("1d", None),
        ("nan", None),
    ],
)
def test_go_durations(text, seconds):
    assert parse_go_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_wait_from_retry_after_then_the_message_then_the_reset_headers():
    assert suggested_wait({"retry-after": "3"}, "Please try again in 1.2s.") == 3.0
    assert suggested_wait({}, "Rate limit reached for gpt-4o-mini ... Please try again in 1.2s. Visit ...") == 1.2
    assert suggested_wait(None, "... on requests per day (RPD): Limit 200, Used 200. Please try again in 7m12s.") == 432
    exhausted = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "6m0s",
        "x-ratelimit-remaining-tokens": "149999970",
        "x-ratelimit-reset-tokens": "1h2m3.5s",  # not the exhausted limit: not waited for
    }
    assert suggested_wait(exhausted, "Rate limit reached.") == 360.0
    assert suggested_wait({"x-ratelimit-reset-tokens": "2ms"}, "Rate limit reached.") == 0.002
    assert suggested_wait({}, "Rate limit reached.") is None


def answer(status, code, message="m", type_="invalid_request_error"):
    return Answer(status=status, code=code, type=type_, message=message)


def test_active_job_limit_on_create_is_a_slot_wait_not_a_failure():
    err = classify_answer("create_job", CREATING, answer(429, "rate_limit_exceeded", ACTIVE), None)
    assert isinstance(err, JobLimitReached) and err.active == 3 and not err.retryable
    other = ACTIVE.replace("3 active requests (2 running, 1 pending)", "12 active requests").replace(
        "gpt-3.5-turbo-0613", "gpt-4.1-nano-2025-04-14"
    )
    assert classify_answer("create_job", CREATING, answer(429, "rate_limit_exceeded", other), None).active == 12
    # The same words elsewhere are an ordinary rate limit.
    chat = classify_answer("complete", "asking the model", answer(429, "rate_limit_exceeded", ACTIVE), 2.0)
    assert type(chat) is BackendError and chat.retryable and chat.retry_after == 2.0


@pytest.mark.parametrize(
    "status,code,type_,op,says",
    [
        (429, "daily_rate_limit_exceeded", "invalid_request_error", "create_job", "resume tomorrow"),
        (429, "insufficient_quota", "insufficient_quota", "complete", "add credit"),
        (429, None, "insufficient_quota", "upload_training_file", "add credit"),
        (401, "invalid_api_key", "invalid_request_error", "complete", "set OPENAI_API_KEY"),
        (401, None, None, "get_job", "set OPENAI_API_KEY"),
    ],
)
def test_account_errors_are_never_retried_and_say_what_to_do(status, code, type_, op, says):
    err = classify_answer(op, "doing it", answer(status, code, DAILY if code and "daily" in code else "m", type_), 5.0)
    assert isinstance(err, AccountError) and not err.retryable and says in str(err)
    assert err.resume_later == (code == "daily_rate_limit_exceeded")
    assert f"HTTP {status}" in str(err) and "\n" not in str(err)


def test_model_not_available_is_final():
    said = "Model gpt-nonexistent is not available for fine-tuning or does not exist."
    err = classify_answer("create_job", CREATING, answer(400, "model_not_available", said), None)
    assert type(err) is BackendError and not err.retryable and "--base-model" in str(err) and said in str(err)


@pytest.mark.parametrize(
    "status,code,retryable",
    [(429, "rate_limit_exceeded", True), (500, None, True), (503, None, True), (408, None, True)]
    + [(400, None, False), (404, "fine_tune_not_found", False), (403, None, False)],
)
def test_the_rest_retry_by_status(status, code, retryable):
    err = classify_answer("get_job", "checking", answer(status, code), None)
    assert type(err) is BackendError and err.retryable is retryable and err.code == code
