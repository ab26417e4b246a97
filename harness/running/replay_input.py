"""What a `--replay` reads, checked before anything is created: the cassette and its sidecar.

Without these checks a cassette without its sidecar, or with a corrupted or truncated body,
replayed as "cassette miss: POST /v1/files"; one with a YAML tag, or cut short, ended in
vcrpy's ValueError traceback with a run directory left behind; a FIFO was "not found" and
still created a run directory. Now each is one line naming the file (and the line and field
where there is one), exit 2, and nothing is created.

The cassette is composed once with libyaml (nesting is capped there), walked without
building it (tags outside vcrpy's safe loader, alias bombs, the shape of each interaction,
JSON bodies that do not parse), and left for vcrpy to load when the replay starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backends.base import ConfigError
from harness import limits

MAX_CASSETTE_BYTES = limits.MAX_DATA_BYTES  # a cassette holds the training files it uploaded


def _fail(path: Path, node: Any, field: str, problem: str) -> ConfigError:
    line = f":{node.start_mark.line + 1}" if node is not None else ""
    return ConfigError(f"{path}{line}: {field}: {problem}")


def _mapping(node: Any) -> dict[str, Any] | None:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return None
    return {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _check_nodes(path: Path, root: Any) -> None:
    """Every tag is one vcrpy's safe loader builds, and aliases expand to a bounded size."""
    import yaml
    from vcr.serializers.yamlserializer import _CassetteLoader

    allowed = {tag for tag in _CassetteLoader.yaml_constructors if tag}
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.tag not in allowed:
            raise _fail(path, node, "YAML tag", f"{limits.clip(node.tag)} is not one a cassette may hold")
        if isinstance(node, yaml.MappingNode):
            stack += [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    from harness.domain.yamlfile import expanded_size

    if expanded_size(root) > limits.MAX_YAML_NODES:
        raise _fail(path, root, "(top level)", f"expands to more than {limits.MAX_YAML_NODES:,} values through aliases")


def _json_body(path: Path, node: Any, field: str) -> None:
    """A body that says it is JSON must parse: a cut or corrupted one would replay as a miss."""
    import yaml

    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
        return  # binary (multipart uploads) or empty
    text = node.value.strip()
    if not text or text[0] not in "{[":
        return
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        problem = f"is not valid JSON ({e.msg} at character {e.pos}): truncated or corrupted?"
        raise _fail(path, node, field, problem) from None


def _check_interaction(path: Path, i: int, node: Any) -> None:
    import yaml

    where = f"interactions[{i}]"
    parts = _mapping(node)
    if parts is None or not {"request", "response"} <= parts.keys():
        raise _fail(path, node, where, "expected a request and a response (is the cassette cut short?)")
    request, response = _mapping(parts["request"]), _mapping(parts["response"])
    if request is None or not {"method", "uri"} <= request.keys():
        raise _fail(path, parts["request"], f"{where}.request", "expected a method and a uri")
    if response is None or not {"status", "body"} <= response.keys():
        raise _fail(path, parts["response"], f"{where}.response", "expected a status and a body")
    status = _mapping(response["status"]) or {}
    code = status.get("code")
    if not isinstance(code, yaml.ScalarNode) or not code.value.isdigit():
        raise _fail(path, response["status"], f"{where}.response.status.code", "expected an HTTP status code")
    body = _mapping(response["body"])
    if body is None or "string" not in body:
        raise _fail(path, response["body"], f"{where}.response.body", "expected the body's string")
    _json_body(path, body["string"], f"{where}.response.body.string")
    if "body" in request:
        _json_body(path, request["body"], f"{where}.request.body")


def check_cassette(path: Path) -> None:
    """ConfigError (exit 2) unless `path` is a cassette a replay can read."""
    import yaml

    try:
        raw = limits.read_bytes_capped(path, MAX_CASSETTE_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"{path}: cassette not found") from None
    except limits.LimitError as e:
        raise ConfigError(str(e)) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text: {e.reason}") from None
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}{where}: not a cassette: malformed YAML: {problem}") from None
    top = _mapping(root)
    if top is None or not isinstance(top.get("interactions"), yaml.SequenceNode):
        raise _fail(path, root, "interactions", "not a cassette: expected a list of recorded interactions")
    _check_nodes(path, root)
    for i, interaction in enumerate(top["interactions"].value):
        _check_interaction(path, i, interaction)


def check_replay(path: Path) -> dict:
    """The cassette and its sidecar, checked (ConfigError otherwise); returns the sidecar."""
    import yaml

    from harness.running import recording

    check_cassette(path)
    sidecar = recording.sidecar_path(path)
    if not sidecar.exists():
        raise ConfigError(
            f"{sidecar}: not found: a cassette replays with the sidecar written when it was recorded "
            "(it says what the cassette was recorded against)"
        )
    try:
        data = recording.read_sidecar(path) or {}
    except (ValueError, yaml.YAMLError, OSError) as e:
        raise ConfigError(f"{sidecar}: not a cassette sidecar: {e}") from None
    if not isinstance(data.get("recorded_against"), str):
        raise ConfigError(f"{sidecar}: not a cassette sidecar: recorded_against is not a string")
    run_id = data.get("run_id")
    if run_id is not None and not isinstance(run_id, str):
        raise ConfigError(f"{sidecar}: not a cassette sidecar: run_id is not a string")
    return data
