#!/usr/bin/env bash
# Installs Berth's npm packages and starts the server on its embedded defaults: SQLite store in
# ~/.berth (/var/lib/berth for root), API on 127.0.0.1:7100, apps at http://<app>.localhost:7180
# through the builtin router, units as processes (each app as a user of its own under root).
# Extra arguments go to `berth server`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d /usr/include/node ]; then export npm_config_nodedir=/usr; fi
npm ci --no-audit --no-fund
# Run as an executable, so that the node flags of its first line apply.
exec bin/berth.js server "$@"
