"""The simulator answers every error in OpenAI's JSON error shape, whatever went wrong:
routes outside /v1, deeply nested JSON, malformed multipart, bodies over its size limit
(before: text/plain 404, 500 and 413 that SDKs cannot parse)."""

import http.client
import json

import pytest

from backends.simulator import app
from backends.simulator.server import Simulator

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def request(sim, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Authorization": "Bearer sk-test", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


def assert_openai_error(status, content_type, body, expected_status, words):
    assert status == expected_status, body[:300]
    assert content_type.startswith("application/json"), content_type
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"} and isinstance(error["message"], str)
    assert error["type"] == ("server_error" if expected_status >= 500 else "invalid_request_error")
    assert words in error["message"], error["message"]


@pytest.fixture(scope="module")
def sim():
    with Simulator(port=0) as s:
        yield s


@pytest.mark.parametrize(
    "method,path,status,words",
    [
        ("GET", "/", 404, "the API is served under /v1"),
        ("POST", "/chat/completions", 404, "Invalid URL (POST /chat/completions)"),
        ("GET", "/v1/nothing", 404, "Invalid URL (GET /v1/nothing)"),
        ("DELETE", "/v1/files", 404, "Invalid URL"),
    ],
)
def test_unknown_routes(sim, method, path, status, words):
    assert_openai_error(*request(sim, method, path), status, words)


def test_deeply_nested_json(sim):
    body = ('{"model": "m", "messages": ' + "[" * 200_000 + "]" * 200_000 + "}").encode()
    assert_openai_error(
        *request(sim, "POST", "/v1/chat/completions", body, {"Content-Type": "application/json"}),
        400,
        "nested more than 64 levels deep",
    )


def test_malformed_multipart(sim):
    body = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nno end'
    status, content_type, data = request(
        sim, "POST", "/v1/files", body, {"Content-Type": "multipart/form-data; boundary=xyz"}
    )
    assert_openai_error(status, content_type, data, 400, "")


def test_body_over_the_size_limit(monkeypatch):
    monkeypatch.setattr(app, "MAX_UPLOAD", 1024 * 1024)  # the same path as 100 MB, in a fraction of the time
    with Simulator(port=0) as sim:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 2 * 1024 * 1024}]})
        assert_openai_error(
            *request(sim, "POST", "/v1/chat/completions", body.encode(), {"Content-Type": "application/json"}),
            413,
            "Request body too large",
        )
