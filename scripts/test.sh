#!/usr/bin/env bash
# Set up, then run the tests in two lanes: the fast lane (everything not marked slow, about two
# minutes) and then the slow lane (real models, real data, training, processes). Each lane prints
# its 15 slowest tests.
#
#   bash scripts/test.sh              both lanes (what CI runs)
#   bash scripts/test.sh fast         the fast lane only
#   bash scripts/test.sh slow -x      the slow lane only; further arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
lanes=(fast slow)
case "${1:-}" in
    fast|slow) lanes=("$1"); shift ;;
esac
bash scripts/setup.sh
# The search page's browser test drives Debian's chromium (playwright's own browser download
# cannot work offline). Installed when missing and this runs as root with apt; else that test skips
# (and fails under CI).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "could not install chromium: the browser test will skip" >&2
fi
for lane in "${lanes[@]}"; do
    if [ "$lane" = fast ]; then marker="not slow"; else marker="slow"; fi
    echo "== $lane lane (-m \"$marker\")"
    .venv/bin/python -m pytest -m "$marker" --durations=15 "$@"
done
