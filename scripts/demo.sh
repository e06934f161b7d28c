#!/usr/bin/env bash
# The README's main job: set up the workspace if needed, then run the demo on the embedded local KMS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node scripts/demo.mjs "$@"
