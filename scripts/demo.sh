#!/usr/bin/env bash
# Set up, then run the main job: encode the bundled multilingual sample and search it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/m3search demo "$@"
