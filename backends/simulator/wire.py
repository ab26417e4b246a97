"""The OpenAI wire format as the simulator speaks it: errors in OpenAI's shape, request
bodies checked the way the API checks them, and response bodies shaped as the published
schemas (FineTuningJob, CreateChatCompletionResponse). No server state lives here."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from backends.base import BackendError, ChatRequest, Completion

HYPERPARAMETERS = ("n_epochs", "batch_size", "learning_rate_multiplier")
MAX_BODY_MB = 100  # the server's client_max_size
JOB_KEYS = {
    "model",
    "training_file",
    "validation_file",
    "hyperparameters",
    "method",
    "suffix",
    "seed",
    "metadata",
    "integrations",
}


class ApiError(Exception):
    """An error answered in OpenAI's shape {"error": {message, type, param, code}}."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None, type_: str | None = None
    ):
        super().__init__(message)
        self.status, self.param, self.code = status, param, code
        self.type = type_ or ("server_error" if status >= 500 else "invalid_request_error")


def as_api_error(err: Exception, method: str, path: str) -> ApiError:
    """Any failure while serving a request, as the error OpenAI would answer."""
    if isinstance(err, ApiError):
        return err
    if isinstance(err, BackendError):  # the served backend refused: its status, its message
        status = err.status or 400
        code = "model_not_found" if status == 404 and path.endswith("/completions") else None
        return ApiError(status, str(err), code=code)
    if isinstance(err, web.HTTPException):  # aiohttp's own refusals (413 body too large, 405)
        message = (
            f"Request body too large ({err.text})." if err.status == 413 else f"{err.reason} ({method} {path[:200]})"
        )
        return ApiError(err.status, message)
    return ApiError(500, f"The server had an error processing your request ({type(err).__name__}; simulated).")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, indent=2), status=status, headers=headers, content_type="application/json"
    )


def error_response(err: ApiError, headers: dict[str, str] | None = None, detail: bool = False) -> web.Response:
    body: dict[str, Any] = {"error": {"message": str(err), "type": err.type, "param": err.param, "code": err.code}}
    if detail:  # the files API's errors also carry this sibling (recorded, 2026)
        body["detail"] = {"message": str(err), "code": err.code}
    return json_response(body, err.status, headers)


# -- requests -------------------------------------------------------------------------------

MAX_JSON_DEPTH = 64  # no request the API takes nests deeper; a deeper one is refused, not recursed into


def _too_deep(value: Any) -> bool:
    todo = [(value, 1)]
    while todo:
        node, depth = todo.pop()
        children = list(node.values()) if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > MAX_JSON_DEPTH:
            return True
        todo.extend((child, depth + 1) for child in children)
    return False


async def read_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except RecursionError:
        body = None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "We could not parse the JSON body of your request.") from None
    if body is None or _too_deep(body):
        raise ApiError(400, f"The JSON body of your request is nested more than {MAX_JSON_DEPTH} levels deep.")
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def string_param(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"Missing or invalid parameter: '{key}' must be a non-empty string.", param=key)
    return value


def required_string(body: dict[str, Any], key: str) -> str:
    value = string_param(body, key, required=True)
    assert value is not None  # string_param raises for a missing required parameter
    return value


def hyperparameters(body: dict[str, Any]) -> dict[str, Any]:
    given = body.get("hyperparameters") or {}
    method = body.get("method")
    if not isinstance(given, dict):
        raise ApiError(400, "hyperparameters must be an object", param="hyperparameters")
    if method is not None:
        if not isinstance(method, dict) or method.get("type") != "supervised":
            raise ApiError(400, "the simulator supports method type 'supervised' only", param="method")
        given = {**given, **((method.get("supervised") or {}).get("hyperparameters") or {})}
    if set(given) - set(HYPERPARAMETERS):
        raise ApiError(400, f"hyperparameters may contain only {', '.join(HYPERPARAMETERS)}", param="hyperparameters")
    # name -> (integers only, lowest, highest, lowest excluded)
    limits = {
        "n_epochs": (True, 1, 50, False),
        "batch_size": (True, 1, 256, False),
        "learning_rate_multiplier": (False, 0, None, True),
    }
    out: dict[str, Any] = {}
    for name in HYPERPARAMETERS:
        value = given.get(name, "auto")
        integer, low, high, open_low = limits[name]
        number = isinstance(value, int) or (isinstance(value, float) and not integer)
        ok = value == "auto" or (
            number
            and not isinstance(value, bool)
            and (value > low if open_low else value >= low)
            and (high is None or value <= high)
        )
        if not ok:
            raise ApiError(400, f"invalid hyperparameter {name}: {value!r}", param=name)
        out[name] = value
    return out


def metadata_param(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or len(value) > 16
        or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 512 for k, v in value.items()
        )
    ):
        raise ApiError(
            400, "metadata must map at most 16 string keys (<= 64 chars) to strings (<= 512 chars)", param="metadata"
        )
    return dict(value) or None


def chat_request(body: dict[str, Any]) -> ChatRequest:
    model = required_string(body, "model")
    if body.get("stream"):
        raise ApiError(400, "stream=true is not supported by the simulator", param="stream")
    if body.get("n", 1) != 1:
        raise ApiError(400, "n must be 1 in the simulator", param="n")
    if body.get("logprobs") or body.get("top_logprobs"):  # refused, never faked
        raise ApiError(400, "logprobs are not supported by the simulator", param="logprobs")
    if body.get("tools") or body.get("functions"):
        raise ApiError(400, "tools are not supported by the simulator", param="tools")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "'messages' must be a non-empty array", param="messages")
    messages = []
    for i, m in enumerate(raw):
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(content, str):
            raise ApiError(
                400, f"Invalid value for 'messages[{i}]': needs a role and text content", param=f"messages[{i}]"
            )
        messages.append({"role": m["role"], "content": content})
    temperature = body.get("temperature", 1.0)
    if temperature is None:
        temperature = 1.0
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not 0 <= temperature <= 2:
        raise ApiError(400, "temperature must be a number from 0 to 2", param="temperature")
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ApiError(400, "seed must be an integer", param="seed")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise ApiError(400, "max_tokens must be a positive integer", param="max_tokens")
    return ChatRequest(model=model, messages=messages, temperature=float(temperature), seed=seed, max_tokens=max_tokens)


def page(items: list[dict[str, Any]], query: Any) -> tuple[list[dict[str, Any]], bool]:
    """OpenAI's cursor pagination: items after the one named by `after`, at most `limit`."""
    try:
        limit = int(query.get("limit", 20))
    except ValueError:
        raise ApiError(400, "limit must be an integer", param="limit") from None
    if limit < 1:
        raise ApiError(400, "limit must be at least 1", param="limit")
    after = query.get("after")
    if after:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise ApiError(400, f"Invalid 'after' cursor: {after}", param="after")
        items = items[ids.index(after) + 1 :]
    return items[:limit], len(items) > limit


def derived_seed(job_id: str) -> int:
    return int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16) % 2**31


# -- responses ----------------------------------------------------------------------------


def completion_body(chat: ChatRequest, done: Completion, created: int) -> dict[str, Any]:
    """A CreateChatCompletionResponse body; its id is a hash of the request, so recordings
    of the same inputs are byte-identical."""
    digest = hashlib.sha256(
        json.dumps([chat.model, chat.messages, chat.temperature, chat.seed, chat.max_tokens], sort_keys=True).encode()
    ).hexdigest()
    return {
        "id": f"chatcmpl-sim{digest[:26]}",
        "object": "chat.completion",
        "created": created,
        "model": chat.model,
        "choices": [
            {
                "index": 0,
                "finish_reason": done.finish_reason,
                "logprobs": None,
                "message": {"role": "assistant", "content": done.text, "refusal": None, "annotations": []},
            }
        ],
        "usage": {
            "prompt_tokens": done.prompt_tokens,
            "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_simulator",
    }
