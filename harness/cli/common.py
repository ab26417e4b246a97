"""Exit codes and error handling shared by every command."""

from __future__ import annotations

import functools
import os
import shlex
import sys
from pathlib import Path
from typing import NoReturn

import click

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


MAX_ERROR_CHARS = 600  # an error is one line a person reads, whatever input it quotes
# ... and a run that stopped may name every fine-tuning job it leaves running at the provider
MAX_RUN_ERROR_CHARS = 1000


def one_line(message: str, limit: int = MAX_ERROR_CHARS) -> str:
    """A message as one line of at most `limit` characters: line breaks become spaces, and
    an overlong middle (a quoted input) is cut, keeping the start (file, line, field) and
    the end (what to do)."""
    text = " ".join(message.splitlines())
    if len(text) <= limit:
        return text
    tail = limit // 4
    return f"{text[: limit - tail - 3]} … {text[-tail:]}"


def _fail(message: str, code: int) -> NoReturn:
    from harness import redact

    limit = MAX_RUN_ERROR_CHARS if code == EXIT_FAILED else MAX_ERROR_CHARS
    click.echo(f"error: {one_line(str(redact.scrub(message)), limit)}", err=True)
    sys.exit(code)


def handle_errors(fn):
    """Map our exceptions to one clear line and an exit code, never a traceback. A path
    that cannot be read or written (OSError naming a file) or text that is not UTF-8 is
    bad input (exit 2); an OSError naming no file (a dropped socket) is a failure (exit 1)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from backends.base import BackendError, CassetteMiss, ConfigError
        from harness.domain.scenario import ScenarioError
        from harness.errors import PlanError, RunError, StoreError

        try:
            return fn(*args, **kwargs)
        except (ScenarioError, ConfigError, PlanError, StoreError) as e:
            _fail(str(e), EXIT_BAD_INPUT)
        except (RunError, CassetteMiss, BackendError) as e:
            _fail(str(e), EXIT_FAILED)
        except KeyboardInterrupt as e:
            run_dir = getattr(e, "run_dir", None)  # harness.errors.RunInterrupted
            if run_dir is None:
                _fail("interrupted before a run directory was created; nothing to resume", EXIT_FAILED)
            note = getattr(e, "note", "")
            _fail(
                f"interrupted; `harness resume {shlex.quote(str(run_dir))}` continues where this stopped"
                + (f"; {note}" if note else ""),
                EXIT_FAILED,
            )
        except UnicodeDecodeError as e:
            _fail(f"input is not UTF-8 text: {e.reason} at byte {e.start}", EXIT_BAD_INPUT)
        except ValueError as e:
            if "null byte" not in str(e):  # os functions refuse a path with a NUL byte this way
                raise
            _fail("a path given contains a NUL byte; no such file can exist", EXIT_BAD_INPUT)
        except OSError as e:
            if e.filename is None:  # a socket or other failure that names no path
                _fail(str(e) or type(e).__name__, EXIT_FAILED)
            _fail(f"{e.filename}: {e.strerror or e}", EXIT_BAD_INPUT)

    return wrapper


def check_out_path(path: Path) -> None:
    """Refuse an --out that is a symbolic link to nothing before anything is done: creating
    it would fail later with a bare "File exists"."""
    if path.is_symlink() and not path.exists():
        _fail(
            f"{path}: is a symbolic link to {os.readlink(path)}, which does not exist; remove the link "
            "or choose another --out",
            EXIT_BAD_INPUT,
        )


def run_directory_holding(path: Path) -> Path | None:
    """The run directory (manifest.json and state.json) or sweep directory (sweep.json) that
    `path` is, or is inside, if any."""
    try:
        here = path.absolute()
    except (OSError, ValueError):
        return None
    for folder in (here, *here.parents):
        try:
            if (folder / "sweep.json").is_file() or (
                (folder / "manifest.json").is_file() and (folder / "state.json").is_file()
            ):
                return folder
        except (OSError, ValueError):
            return None
    return None


def refuse_run_directory(path: Path, option: str) -> None:
    """A command writes its output (an export, a table, a cassette, a scenario) outside run
    directories: a run's files are its record (`export RUN --out RUN/responses.jsonl` once
    overwrote the run's own answers)."""
    run = run_directory_holding(path)
    if run is not None:
        if not path.is_absolute():  # in the user's own terms
            run = Path(os.path.relpath(run))
        _fail(
            f"{path}: is inside the run directory {run}; {option} writes only outside run directories "
            "(a run's files are its record): choose another path",
            EXIT_BAD_INPUT,
        )


def refuse_existing_cassette(path: Path, force: bool) -> None:
    """--record starts a cassette afresh: one that exists (or its sidecar) is replaced only with
    --force (a recording is the shareable record of an experiment)."""
    from harness.running.recording import sidecar_path

    refuse_run_directory(path, "--record")
    existing = [p for p in (path, sidecar_path(path)) if p.exists() or p.is_symlink()]
    if existing and not force:
        _fail(
            f"{existing[0]}: already exists; --record would replace it and its sidecar: "
            "pass --force to record over it, or choose another path",
            EXIT_BAD_INPUT,
        )


class Group(click.Group):
    """Usage errors (a bad option value, a missing argument) as one line and exit 2, like
    every other bad input, instead of click's three-line usage block."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.UsageError as e:
            ctx = f"{e.ctx.command_path}: " if e.ctx else ""
            _fail(f"{ctx}{e.format_message()}", EXIT_BAD_INPUT)
        except click.exceptions.Abort:
            _fail("aborted", EXIT_FAILED)
        except click.ClickException as e:
            _fail(e.format_message(), EXIT_BAD_INPUT)
        except ValueError as e:  # click's path checks stat() the argument: a NUL byte ends up here
            if "null byte" not in str(e):
                raise
            _fail("a path given contains a NUL byte; no such file can exist", EXIT_BAD_INPUT)
