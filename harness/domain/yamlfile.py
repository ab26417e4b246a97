"""YAML files whose errors name the file, the line and the field: a loader that keeps the
line of every key and list item, refuses a key given twice, and turns pydantic's first
error into "file:line: field: what is wrong"."""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails


class YamlError(Exception):
    """Bad input in a YAML file: the message names the file, the line and the field."""


def _positions(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """Map each path in the YAML document (keys and list indexes) to its 1-based line."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (key.value,)
            lines[sub] = key.start_mark.line + 1
            lines.update({p: n for p, n in _positions(value, sub).items() if p != sub})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_positions(item, path + (i,)))
    return lines


def line_for(loc: tuple, lines: dict[tuple, int]) -> int:
    loc = tuple(loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def _doc_loc(loc: tuple) -> tuple:
    """Drop pydantic's type tags ("int", "literal['a']", "function-after[...]") from a loc."""
    return tuple(p for p in loc if isinstance(p, int) or (
        re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) and p not in {"int", "float", "str", "bool"}))


def field_name(loc: tuple) -> str:
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[") or "(top level)"


def _friendly(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (check its spelling)"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "model_type":  # pydantic names our class: say what the file should hold
        return "expected a mapping of fields"
    return err["msg"].removeprefix("Value error, ")


class _RepeatedKey(yaml.constructor.ConstructorError):
    def __init__(self, mapping: yaml.MappingNode, key: yaml.Node, first: yaml.Node):
        super().__init__(problem=f"repeated key {key.value!r}", problem_mark=key.start_mark)
        self.mapping, self.key, self.first = mapping, key, first


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping: PyYAML would keep the
    last value silently (`samples: 20` ... `samples: 3` would run 3 samples)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue  # merged keys (<<) may be overridden: that is what merging is for
                value = self.construct_object(key)
                if value in seen:
                    raise _RepeatedKey(node, key, seen[value])
                seen[value] = key
        return super().construct_mapping(node, deep=deep)


def _path_of(node: yaml.Node, target: yaml.Node, path: tuple = ()) -> tuple | None:
    """The document path of a node (keys and list indexes), found by identity."""
    if node is target:
        return path
    children = [(path + (k.value,), v) for k, v in node.value] if isinstance(node, yaml.MappingNode) else \
        [(path + (i,), v) for i, v in enumerate(node.value)] if isinstance(node, yaml.SequenceNode) else []
    for sub, child in children:
        found = _path_of(child, target, sub)
        if found is not None:
            return found
    return None


def read_yaml(path: Path, error: type[Exception] = YamlError, what: str = "scenario") -> tuple[str, dict, dict]:
    """A YAML mapping with the line of every path in it: (text, data, lines). Errors name
    the file and line, as `error`; a key given twice in one mapping is an error at its
    second line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot read: {e}") from None
    loader = UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _RepeatedKey as e:
        loc = (_path_of(node, e.mapping) or ()) + (e.key.value,) if node is not None else (e.key.value,)
        raise error(f"{path}:{e.key.start_mark.line + 1}: {field_name(loc)}: key given twice "
                    f"(first on line {e.first.start_mark.line + 1}); give it once") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise error(f"{path}:{line}: malformed YAML: {getattr(e, 'problem', None) or e}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict) or node is None:
        raise error(f"{path}:1: expected a mapping of {what} fields at the top level")
    return text, data, _positions(node)


def first_error(e: ValidationError, lines: dict[tuple, int]) -> tuple[int, tuple, str, str]:
    """The problem to report first: (line, field path, message, "(and N more)")."""
    located = [(line_for(_doc_loc(err["loc"]), lines), err) for err in e.errors()]
    # An unknown key explains a "missing" one (a typo), so it is reported first.
    line, err = min(located, key=lambda pair: (pair[1]["type"] != "extra_forbidden", pair[0]))
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return line, _doc_loc(err["loc"]), _friendly(err), more
