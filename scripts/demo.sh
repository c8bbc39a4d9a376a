#!/usr/bin/env bash
# The main job on the built-in lab: three namespace hosts and a local BIND, then configure-cluster
# (1 primary, 1 sync and 1 async replica, service name in DNS) and info-list.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/test/lab/cli.js up 3 --bind
exec node bin/pgtasks.js -i inventory/lab.yml configure-cluster info-list
