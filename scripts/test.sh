#!/usr/bin/env bash
# The whole test suite: unit tests (pure logic) and integration tests on the namespace lab
# (real sshd, PostgreSQL, PgBouncer, BIND). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx vitest run "$@"
