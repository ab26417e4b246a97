"""YAML files whose errors name the file, the line and the field: a loader that keeps the
line of every key and list item, refuses a key given twice, and turns pydantic's first
error into "file:line: field: what is wrong".

Hostile files fail fast, before they cost memory or time: only a regular file under a size
cap is read, a NUL byte is an error at its line, collections nest at most limits.MAX_DEPTH
deep, and a document whose aliases (&anchor / *alias) would expand to more than
limits.MAX_YAML_NODES values is refused before anything is built from it (a 272-byte
"billion laughs" file took 16 s and 1.2 GB)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from harness import limits


class YamlError(Exception):
    """Bad input in a YAML file: the message names the file, the line and the field."""


def _positions(node: yaml.Node, path: tuple = (), seen: set[int] | None = None) -> dict[tuple, int]:
    """Map each path in the YAML document (keys and list indexes) to its 1-based line. A node
    reached again through an alias is not walked again (line_for falls back to the alias's
    own line), so this stays linear in the file, not in its expansion."""
    seen = set() if seen is None else seen
    lines = {path: node.start_mark.line + 1}
    if id(node) in seen:
        return lines
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (key.value,)
            lines[sub] = key.start_mark.line + 1
            lines.update({p: n for p, n in _positions(value, sub, seen).items() if p != sub})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_positions(item, path + (i,), seen))
    return lines


def line_for(loc: tuple, lines: dict[tuple, int]) -> int:
    loc = tuple(loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def _doc_loc(loc: tuple) -> tuple:
    """Drop pydantic's type tags ("int", "literal['a']", "function-after[...]") from a loc."""
    return tuple(
        p
        for p in loc
        if isinstance(p, int)
        or (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) and p not in {"int", "float", "str", "bool"})
    )


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
        super().__init__(problem=f"repeated key {limits.clip(key.value)}", problem_mark=key.start_mark)
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


class _TooBig(yaml.YAMLError):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


class BoundedLoader(UniqueKeyLoader):
    """UniqueKeyLoader whose composer refuses collections nested deeper than limits.MAX_DEPTH
    (PyYAML composes recursively: 20,000 levels raised RecursionError)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > limits.MAX_DEPTH + 1:  # + 1: the document's own top-level node
                mark = self.peek_event().start_mark
                raise _TooBig(mark.line + 1, f"nested more than {limits.MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def expanded_size(node: yaml.Node) -> int:
    """How many nodes the document holds once every alias is expanded, computed without
    expanding (each distinct node is sized once), capped just above the limit."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        if id(n) not in sizes:
            sizes[id(n)] = 0  # a recursive alias (an anchor inside itself) counts once
            children = (
                [c for pair in n.value for c in pair]
                if isinstance(n, yaml.MappingNode)
                else n.value
                if isinstance(n, yaml.SequenceNode)
                else []
            )
            total = 1
            for child in children:
                total = min(total + size(child), limits.MAX_YAML_NODES + 1)
            sizes[id(n)] = total
        return sizes[id(n)]

    return size(node)


def _path_of(node: yaml.Node, target: yaml.Node, path: tuple = ()) -> tuple | None:
    """The document path of a node (keys and list indexes), found by identity."""
    if node is target:
        return path
    children = (
        [(path + (k.value,), v) for k, v in node.value]
        if isinstance(node, yaml.MappingNode)
        else [(path + (i,), v) for i, v in enumerate(node.value)]
        if isinstance(node, yaml.SequenceNode)
        else []
    )
    for sub, child in children:
        found = _path_of(child, target, sub)
        if found is not None:
            return found
    return None


def read_yaml(path: Path, error: type[Exception] = YamlError, what: str = "scenario") -> tuple[str, dict, dict]:
    """A YAML mapping with the line of every path in it: (text, data, lines). Errors name
    the file and line, as `error`; a key given twice in one mapping is an error at its
    second line. Limits (size, NUL bytes, depth, alias expansion) are errors the same way."""
    text = read_text_limited(path, error)
    loader = None
    try:
        loader = BoundedLoader(text)  # the reader refuses control characters at once
        node = loader.get_single_node()
        if node is not None and expanded_size(node) > limits.MAX_YAML_NODES:
            raise error(
                f"{path}:1: the document expands to more than {limits.MAX_YAML_NODES:,} values "
                "through its aliases (&anchor / *alias); write the values out or use fewer aliases"
            )
        data = loader.construct_document(node) if node is not None else None
    except _RepeatedKey as e:
        loc = (_path_of(node, e.mapping) or ()) + (e.key.value,) if node is not None else (e.key.value,)
        raise error(
            f"{path}:{e.key.start_mark.line + 1}: {field_name(loc)}: key given twice "
            f"(first on line {e.first.start_mark.line + 1}); give it once"
        ) from None
    except _TooBig as e:
        raise error(f"{path}:{e.line}: {e.message}") from None
    except yaml.reader.ReaderError as e:  # a control character: say where, not which byte offset
        line = text.count("\n", 0, e.position) + 1
        char = e.character if isinstance(e.character, str) else chr(e.character)
        raise error(f"{path}:{line}: not a text file: control character {char!r} is not allowed") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise error(f"{path}:{line}: malformed YAML: {getattr(e, 'problem', None) or e}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict) or node is None:
        raise error(f"{path}:1: expected a mapping of {what} fields at the top level")
    return text, data, _positions(node)


def read_text_limited(path: Path, error: type[Exception] = YamlError) -> str:
    """A YAML file's text: a regular file of at most limits.MAX_YAML_BYTES, UTF-8, no NUL."""
    try:
        raw = limits.read_bytes_capped(path, limits.MAX_YAML_BYTES)
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except limits.LimitError as e:
        raise error(str(e)) from None
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror or e}") from None
    nul = raw.find(b"\0")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise error(f"{path}:{line}: contains a NUL byte (a binary file?); give a YAML text file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise error(f"{path}:{line}: not UTF-8 text: {e.reason}") from None


def first_error(e: ValidationError, lines: dict[tuple, int]) -> tuple[int, tuple, str, str]:
    """The problem to report first: (line, field path, message, "(and N more)")."""
    located = [(line_for(_doc_loc(err["loc"]), lines), err) for err in e.errors()]
    # An unknown key explains a "missing" one (a typo), so it is reported first.
    line, err = min(located, key=lambda pair: (pair[1]["type"] != "extra_forbidden", pair[0]))
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return line, _doc_loc(err["loc"]), _friendly(err), more
