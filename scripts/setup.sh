#!/usr/bin/env bash
# Installs everything pgtasks, its lab and its tests need on a fresh Debian machine (as root), then
# builds. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then echo "scripts/setup.sh: run as root (it installs Debian packages and the lab needs namespaces)" >&2; exit 1; fi

pkgs=(openssh-server openssh-client iproute2 procps sudo postgresql postgresql-contrib pgbouncer pgbackrest openssl bind9 bind9-dnsutils ansible-core jq shfmt)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  # pgtasks creates the clusters the inventory names; the package's automatic "main" cluster would only be in the way.
  install -d /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/pgtasks.conf
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
