#!/usr/bin/env bash
# The whole test suite: unit tests (pure logic) and integration tests on the namespace lab
# (real sshd, PostgreSQL, PgBouncer, BIND). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Style first: a lint finding or an unformatted file fails the run before any lab starts.
npm run --silent format:check
npm run --silent lint
# Tests, examples and benches are type-checked too (the build compiles only what ships).
npm run --silent typecheck
# vitest's own summary, then the plain "N passed, N failed" line CI reads.
# Every pgtasks run's events go to a file as they come; when a test fails, its end is printed, so a
# run that never finished shows where it stopped (secrets are masked in events).
export PGTASKS_TEST_LOG="$PWD/.pgtasks-test-events.log"
rm -f "$PGTASKS_TEST_LOG"
status=0
npx vitest run --reporter=default --reporter=json --outputFile=.vitest-results.json "$@" || status=$?
if [ $status != 0 ] && [ -f "$PGTASKS_TEST_LOG" ]; then echo "--- the last pgtasks events ($PGTASKS_TEST_LOG) ---"; tail -n 40 "$PGTASKS_TEST_LOG" | cut -c1-300; fi
node -e 'const r=require("./.vitest-results.json"); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`)' 2>/dev/null || true
exit $status
