#!/usr/bin/env bash
# Make sure a Docker engine answers: install docker.io from Debian if missing, start dockerd if
# nothing is listening, and wait (bounded) until `docker info` works.
set -euo pipefail
say() { printf '==> %s\n' "$*" >&2; }

if ! command -v dockerd >/dev/null 2>&1; then
  say "Installing docker.io"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi

log=${DOCKERD_LOG:-/var/log/dockerd.log}
say "Starting dockerd (log: $log)"
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
say "dockerd did not answer within 60 s; see $log"
tail -n 20 "$log" >&2 || true
exit 1
