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
# Python apps build in a venv with pip, which needs ensurepip (Debian's python3-venv). Apps
# run as users of their own, who cannot reach a python under root's home (pyenv): the system's
# python3 must have it too.
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
command -v tar >/dev/null 2>&1 || missing+=(tar)
command -v mkfifo >/dev/null 2>&1 || missing+=(coreutils)
# The git-over-SSH tests run the real OpenSSH client (ssh, ssh-keygen).
{ command -v ssh && command -v ssh-keygen; } >/dev/null 2>&1 || missing+=(openssh-client)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# Redis add-ons run Debian's redis-server (Berth starts its own servers; the system's stays off).
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
# Container tests: Podman's Docker-compatible service with runc (crun refuses this machine's
# cgroups), and debootstrap to build Berth's stack base images (no registry can be pulled from).
# These keep their recommends (fuse-overlayfs, slirp4netns, catatonit): the setup seen working.
engine_missing=()
command -v podman >/dev/null 2>&1 || engine_missing+=(podman)
command -v runc >/dev/null 2>&1 || engine_missing+=(runc)
command -v debootstrap >/dev/null 2>&1 || engine_missing+=(debootstrap)
command -v newuidmap >/dev/null 2>&1 || engine_missing+=(uidmap)
# Units run with an init (HostConfig.Init) that forwards signals; Podman's is catatonit.
[ -x /usr/libexec/podman/catatonit ] || engine_missing+=(catatonit)
# Berth keeps app networks apart with iptables rules of its own (Podman's own rule is lost).
command -v iptables >/dev/null 2>&1 || engine_missing+=(iptables)
if [ "${#missing[@]}" -gt 0 ] || [ "${#engine_missing[@]}" -gt 0 ]; then
  sudo_if_needed apt-get update -qq
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ "${#engine_missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${engine_missing[*]}"
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq "${engine_missing[@]}"
fi

# Without default_ulimits = [] every container fails here (no CAP_SYS_RESOURCE to set
# RLIMIT_NOFILE/NPROC), and crun refuses the hybrid cgroups where runc works. Written when the
# file is missing; an existing file without default_ulimits gets the two settings added in
# their tables (a runtime it names already stays), and its other settings are kept.
containers_conf=/etc/containers/containers.conf
if [ ! -f "$containers_conf" ]; then
  echo "writing $containers_conf (default_ulimits = [], runtime = \"runc\")"
  sudo_if_needed mkdir -p /etc/containers
  printf '%s\n' '[containers]' 'default_ulimits = []' '[engine]' 'runtime = "runc"' |
    sudo_if_needed tee "$containers_conf" >/dev/null
elif ! grep -q '^[[:space:]]*default_ulimits[[:space:]]*=' "$containers_conf"; then
  echo "adding default_ulimits = [] (and runtime = \"runc\" if unset) to $containers_conf"
  merged="$(awk '
    /^[[:space:]]*runtime[[:space:]]*=/ { has_runtime = 1 }
    { lines[NR] = $0 }
    END {
      for (i = 1; i <= NR; i++) {
        print lines[i]
        if (lines[i] ~ /^[[:space:]]*\[containers\][[:space:]]*$/) { print "default_ulimits = []"; c = 1 }
        if (lines[i] ~ /^[[:space:]]*\[engine\][[:space:]]*$/ && !has_runtime) { print "runtime = \"runc\""; e = 1 }
      }
      if (!c) { print "[containers]"; print "default_ulimits = []" }
      if (!e && !has_runtime) { print "[engine]"; print "runtime = \"runc\"" }
    }' "$containers_conf")"
  sudo_if_needed cp "$containers_conf" "$containers_conf.before-berth"
  printf '%s\n' "$merged" | sudo_if_needed tee "$containers_conf" >/dev/null
fi

# Native addons (better-sqlite3) build from source: use the local Node headers.
if [ -d /usr/include/node ]; then export npm_config_nodedir=/usr; fi

npm ci --no-audit --no-fund
npm run lint
npm run build
npm test
