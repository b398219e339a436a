#!/usr/bin/env bash
# The worker host's systemd unit (scripts/pixelmill-worker.service) passes `systemd-analyze
# verify` with the built worker in place of /usr/local/bin/worker. Skipped (77) where systemd is
# not installed. Usage: systemd_unit_test.sh UNIT WORKER
set -euo pipefail
unit=$1 worker=$2
if ! command -v systemd-analyze >/dev/null; then
  echo "skipped: systemd-analyze is not installed"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
grep -q '^ExecStart=/usr/local/bin/worker ' "$unit"
grep -q '^NoNewPrivileges=yes$' "$unit"
grep -q '^ProtectSystem=strict$' "$unit"
sed "s#^ExecStart=/usr/local/bin/worker #ExecStart=$worker #" "$unit" >"$dir/pixelmill-worker.service"
# Any complaint (an unknown setting, a bad value) is printed: the unit must verify silently.
out=$(cd "$dir" && systemd-analyze verify --man=no ./pixelmill-worker.service 2>&1) || {
  echo "$out"
  exit 1
}
if [ -n "$out" ]; then
  echo "$out"
  exit 1
fi
echo "ok: $unit verifies"
