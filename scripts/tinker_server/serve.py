"""Start SkyRL's open-source Tinker-API server (PyPI `skyrl` 0.4.0, `--backend jax`) with the
python of the venv that scripts/tinker_server/build.sh made:

    VENV/bin/python scripts/tinker_server/serve.py --port 8765 --base-model MODEL_DIR \\
        --database-url sqlite:///DIR/tinker.db --checkpoints-base DIR/ckpt
    VENV/bin/python scripts/tinker_server/serve.py --check     # the venv imports what it needs

Every option of skyrl.tinker.api is accepted (`--help` lists them); `--backend` defaults to
jax here and `--host` to 127.0.0.1 (the server takes no key: keep it on loopback). The
health check answers at http://HOST:PORT/api/v1/healthz once the API is up; the engine loads
the model a few seconds later. SIGTERM to this process stops both.

The server needs two things that its package does not give on Python 3.11, done here at start
rather than by patching installed files:
- pydantic refuses typing.TypedDict before Python 3.12 in the models skyrl declares with it:
  typing.TypedDict is made typing_extensions.TypedDict before skyrl is imported;
- skyrl.tinker.api starts its engine as `uv run ... -m skyrl.tinker.engine`, after checking
  that it was itself started by `uv run`: the engine is started with this python and this
  script instead (`serve.py --engine ARGS`), so no uv is needed.

This file runs in the server's venv, not the harness's: it imports nothing of the project.
"""

from __future__ import annotations

import runpy
import sys
import typing


def _python_311_typeddict() -> None:
    import typing_extensions

    typing.TypedDict = typing_extensions.TypedDict


def _engine_command(_parent_cmd: list[str], engine_config) -> list[str]:
    from skyrl.tinker.config import config_to_argv

    return [sys.executable, __file__, "--engine", *config_to_argv(engine_config)]


def _check() -> None:
    import importlib.metadata as md

    import skyrl.backends.jax
    import skyrl.tinker.api
    import skyrl.tinker.engine  # noqa: F401

    versions = {name: md.version(name) for name in ("skyrl", "tinker", "jax", "flax", "transformers", "torch")}
    print("ok:", ", ".join(f"{k} {v}" for k, v in versions.items()))


def _serve(argv: list[str]) -> None:
    import argparse

    import uvicorn
    from skyrl.tinker import api
    from skyrl.tinker.config import EngineConfig, add_model

    api._build_uv_run_cmd_engine = _engine_command  # the engine without uv (module docstring)
    parser = argparse.ArgumentParser(description="SkyRL's Tinker-API server, started without uv")
    add_model(parser, EngineConfig)
    parser.set_defaults(backend="jax")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    config = EngineConfig.model_validate({k: v for k, v in vars(args).items() if k in EngineConfig.model_fields})
    api.app.state.engine_config = config
    uvicorn.run(
        api.app,
        host=args.host,
        port=args.port,
        log_config=api.get_uvicorn_log_config(),
        timeout_keep_alive=api.HTTP_KEEP_ALIVE_TIMEOUT_SECONDS,
    )


def main(argv: list[str]) -> None:
    _python_311_typeddict()
    if argv[:1] == ["--check"]:
        _check()
    elif argv[:1] == ["--engine"]:
        sys.argv = ["skyrl.tinker.engine", *argv[1:]]
        runpy.run_module("skyrl.tinker.engine", run_name="__main__", alter_sys=True)
    else:
        _serve(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
