#!/usr/bin/env bash
# Installs everything Berth's tests need on a fresh Debian machine (Debian packages, npm
# packages), then runs lint, the build and every test. .ci/run calls this script.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v git >/dev/null 2>&1 || missing+=(git)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# The bundle tests build archives with the real tools users have.
command -v zip >/dev/null 2>&1 || missing+=(zip)
# Python apps build in a venv with pip, which needs ensurepip (Debian's python3-venv).
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v tar >/dev/null 2>&1 || missing+=(tar)
command -v mkfifo >/dev/null 2>&1 || missing+=(coreutils)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Native addons (better-sqlite3) build from source: use the local Node headers.
if [ -d /usr/include/node ]; then export npm_config_nodedir=/usr; fi

npm ci --no-audit --no-fund
npm run lint
npm run build
npm test
