#!/usr/bin/env bash
# Build the virtualenv of SkyRL's open-source Tinker-API server, which the `tinker` backend's
# integration tests start on loopback (tests/backends/tinker/conftest.py).
#
#   bash scripts/tinker_server/build.sh VENV      # ~2.4 GB, a few minutes
#
# Then: HARNESS_TINKER_SERVER_VENV=VENV pytest tests/backends/tinker
# Everything comes from PyPI: torch as the CPU build (pip install torch==2.13.0 takes the CPU
# file on this project's machines; an unpinned torch resolves to a CUDA build of several GB),
# the server's requirements pinned by constraints.txt, then skyrl 0.4.0 without its declared
# dependencies (requirements.txt says why). Nothing in the venv is patched: serve.py applies
# the two fixes the server needs on Python 3.11 when it starts it.
set -euo pipefail
venv=${1:?usage: build.sh VENV}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
# The harness's own pins (CI exports them) are not the server's.
unset PIP_CONSTRAINT
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "build.sh: needs Python 3.11 or newer (set PYTHON=...)" >&2
    exit 2
}
stamp="$venv/.hello-harness-build"
want=$(cat "$here/requirements.txt" "$here/constraints.txt" "$0" | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "build.sh: $venv is up to date"
    exit 0
fi
rm -rf "$venv"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-cache-dir -q)
"${pip[@]}" install torch==2.13.0
"${pip[@]}" install -r "$here/requirements.txt" -c "$here/constraints.txt"
"${pip[@]}" install --no-deps --ignore-requires-python skyrl==0.4.0
"$venv/bin/python" "$here/serve.py" --check
echo "$want" >"$stamp"
echo "build.sh: built $venv ($(du -sh "$venv" | cut -f1)) in ${SECONDS} s"
