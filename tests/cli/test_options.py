"""Option values are refused as a class, not case by case: every float option of every
command is a finite number (NaN would disable --max-cost: every `> cap` is false), every
integer option has a ceiling (--samples 1000000000 hung building tasks), and the refusal
is one line with exit 2."""

import time

import click
import pytest

from harness.cli.main import main
from harness.cli.params import FiniteFloat
from tests.helpers import ROOT, invoke

SCENARIO = ROOT / "scenarios/helol.yaml"
SWEEP = ROOT / "scenarios/sweeps/common-vs-random.yaml"
# Integer options with no meaningful ceiling of their own (none today).
UNBOUNDED_INTS: set[tuple[str, str]] = set()


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,), cmd


def value_options():
    for path, cmd in commands():
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.is_flag:
                yield path, param


def test_every_float_option_is_finite_and_every_int_option_bounded():
    floats = ints = 0
    for path, param in value_options():
        t = param.type
        assert not isinstance(t, click.types.FloatParamType), f"{' '.join(path)} {param.opts[0]}: use FiniteFloat"
        floats += isinstance(t, FiniteFloat)
        if isinstance(t, click.types.IntParamType):
            ints += 1
            bounded = isinstance(t, click.IntRange) and t.min is not None and t.max is not None
            assert bounded or (path[-1], param.name) in UNBOUNDED_INTS, f"{' '.join(path)} {param.opts[0]}: unbounded"
    assert floats >= 14 and ints >= 10  # run, resume, sweep, new and simulate were all found


def _args_for(path, opt):
    """A command line that reaches option parsing for `opt` (arguments that exist)."""
    head = {"run": [SCENARIO], "resume": [ROOT], "sweep": [SWEEP], "new": ["ABC"]}.get(path[-1], [])
    return [*path, *head, opt]


FLOAT_OPTIONS = sorted({(p, param.opts[0]) for p, param in value_options() if isinstance(param.type, FiniteFloat)})


@pytest.mark.parametrize("path,opt", FLOAT_OPTIONS, ids=lambda x: x if isinstance(x, str) else " ".join(x))
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_non_finite_floats_are_refused(path, opt, value):
    result = invoke(*_args_for(path, opt), value)
    assert result.exit_code == 2, result.output
    assert "must be a finite number" in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args,expected",
    [
        (
            ["run", SCENARIO, "--samples", "1000000000", "--dry-run"],
            "'--samples': 1000000000 is not in the range 1<=x<=10000",
        ),
        (["run", SCENARIO, "--concurrency", "100000"], "'--concurrency': 100000 is not in the range 1<=x<=256"),
        (["run", SCENARIO, "--seed", "-1"], "'--seed': -1 is not in the range"),
        (["new", "ABC", "--examples", "100000"], "'--examples': 100000 is not in the range 1<=x<=1000"),
        (["new", "ABC", "--retries", "1000"], "'--retries': 1000 is not in the range 0<=x<=20"),
        (["simulate", "--port", "70000"], "'--port': 70000 is not in the range 0<=x<=65535"),
        (["simulate", "--drop-every", "-1"], "'--drop-every': -1 is not in the range"),
    ],
)
def test_counts_have_ceilings(args, expected):
    start = time.monotonic()
    result = invoke(*args)
    assert result.exit_code == 2 and expected in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and time.monotonic() - start < 5


@pytest.mark.parametrize(
    "content,expected",
    [
        ("{}", None),  # an empty state is a fresh simulator
        ('{"clock": "x"}', "simulator state file: clock: expected int, got str"),
        ("[1, 2]", "expected a JSON object"),
        ('{"jobs": {}, "other": 1}', "unknown field 'other'"),
        ("{oops", "cannot read the simulator state file"),
    ],
)
def test_a_damaged_simulator_state_file_is_one_line(tmp_path, content, expected):
    from backends.simulator.server import Simulator

    (tmp_path / "st.sim.json").write_text(content)
    if expected is None:
        with Simulator(port=0, state_path=tmp_path / "st") as sim:
            assert sim.port > 0
        return
    result = invoke("simulate", "--port", "0", "--state", tmp_path / "st")
    assert result.exit_code == 2 and expected in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_damaged_mock_state_is_a_config_error(tmp_path):
    from backends.base import ConfigError
    from backends.mock import MockBackend

    (tmp_path / "m.json").write_text('{"jobs": []}')
    with pytest.raises(ConfigError, match="mock provider state: jobs: expected dict, got list"):
        MockBackend(state_path=tmp_path / "m.json")
    (tmp_path / "m.json").write_text("{}")
    assert MockBackend(state_path=tmp_path / "m.json").state["jobs"] == {}
