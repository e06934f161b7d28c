#!/usr/bin/env bash
# The README's test command: sets up the workspace if needed, then runs every test once and prints a
# one-line summary ("N passed, N failed") after the runner's own report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
results=.vitest-results.json
rm -f "$results"
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
if [ -f "$results" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
    if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
  ' "$results" || status=1
fi
exit "$status"
