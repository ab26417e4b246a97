#!/usr/bin/env bash
# Render a run's report.html in headless Chromium and save a full-page PNG beside it.
# Usage: scripts/screenshot_report.sh RUN_DIR [WIDTH] [HEIGHT]
# Needs Debian's chromium (apt-get install chromium). The flags keep it off the network.
set -euo pipefail
run_dir="${1:?usage: $0 RUN_DIR [WIDTH] [HEIGHT]}"
width="${2:-1280}"
height="${3:-4000}"
html="$(cd "$run_dir" && pwd)/report.html"
[ -f "$html" ] || { echo "error: $html not found" >&2; exit 2; }
browser="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$browser" ] || { echo "error: chromium not found (apt-get install chromium)" >&2; exit 2; }
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size="$width,$height" \
  --screenshot="$run_dir/report.png" "file://$html" >/dev/null 2>&1
echo "$run_dir/report.png"
