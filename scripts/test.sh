#!/usr/bin/env bash
# Set up, then run the test suite (slow tests included; add -m "not slow" to skip them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The search page's browser test drives Debian's chromium (playwright's own browser download
# cannot work offline). Installed when missing and this runs as root with apt; else that test skips
# (and fails under CI).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "could not install chromium: the browser test will skip" >&2
fi
exec .venv/bin/python -m pytest "$@"
