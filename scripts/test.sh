#!/usr/bin/env bash
# The whole test suite: unit tests (pure logic) and integration tests on the namespace lab
# (real sshd, PostgreSQL, PgBouncer, BIND). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Style first: a lint finding or an unformatted file fails the run before any lab starts.
npm run --silent format:check
npm run --silent lint
# vitest's own summary, then the plain "N passed, N failed" line CI reads.
status=0
npx vitest run --reporter=default --reporter=json --outputFile=.vitest-results.json "$@" || status=$?
node -e 'const r=require("./.vitest-results.json"); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`)' 2>/dev/null || true
exit $status
