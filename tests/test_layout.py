"""The tree shows the architecture and keeps showing it: imports flow one way between the
harness's subpackages, backends use only the harness's pure rule, scoring and pricing code,
no module is over 400 lines and no folder holds more than 12 modules."""

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

# Top to bottom: a package may import the ones below it, never one above.
LAYERS = ["cli", "sweeps", "running", "calls", "reports", "analysis", "store", "domain"]
# Modules at the top of harness/ that every layer may use (errors, limits, redaction, crash points).
SHARED = {"errors", "limits", "redact", "crash"}
BACKENDS_MAY_USE = {"harness", "harness.domain.rules", "harness.domain.scoring", "harness.domain.pricing"}
CODE = [p for top in ("harness", "backends") for p in sorted((ROOT / top).rglob("*.py"))]


def imported(path: Path) -> set[str]:
    """Every module `path` imports (at the top or inside a function), as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return found


def layer(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "harness" else None


IN_LAYERS = [p for p in CODE if p.relative_to(ROOT).parts[0] == "harness" and len(p.relative_to(ROOT).parts) >= 3]


@pytest.mark.parametrize("path", IN_LAYERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_down_the_layers(path):
    rel = path.relative_to(ROOT)
    own = LAYERS.index(rel.parts[1])
    for name in imported(path):
        target = layer(name)
        if target in LAYERS and LAYERS.index(target) < own:
            pytest.fail(f"{rel} imports {name}: {rel.parts[1]} may not depend on {target} (above it)")


def test_shared_modules_import_no_layer():
    for name in SHARED:
        path = ROOT / "harness" / f"{name}.py"
        above = {n for n in imported(path) if layer(n) in LAYERS}
        assert not above, f"harness/{name}.py imports {above}"


def test_backends_use_only_the_pure_rule_scoring_and_pricing_code():
    for path in (p for p in CODE if p.relative_to(ROOT).parts[0] == "backends"):
        for name in imported(path):
            allowed = name in BACKENDS_MAY_USE or any(a.startswith(name + ".") for a in BACKENDS_MAY_USE)
            if name.startswith("harness") and not allowed:
                pytest.fail(f"{path.relative_to(ROOT)} imports {name}")


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in CODE if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_no_folder_holds_more_than_12_modules():
    folders = {p.parent for p in CODE}
    crowded = {}
    for folder in folders:
        modules = [p for p in folder.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
        if len(modules) > 12:
            crowded[str(folder.relative_to(ROOT))] = len(modules)
    assert not crowded, crowded
