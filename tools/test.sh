#!/usr/bin/env bash
# Run every test layer of the collection, on a fresh machine as on a prepared one:
#
#   tools/test.sh                 # all layers: lint sanity pytest molecule
#   tools/test.sh pytest          # one or more layers, in the order given
#   tools/test.sh molecule -- -s preflight   # extra arguments after -- go to that layer's tool
#
# It installs what it needs (the Python environment in .venv, docker.io and debootstrap from
# Debian), starts a Docker engine when none answers, and builds the systemd node image once.
# Every layer runs even when an earlier one failed; the exit status is non-zero if any failed.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
say() { printf '\n==> %s\n' "$*" >&2; }

layers=()
extra=()
while (($#)); do
  if [[ "$1" == "--" ]]; then shift; extra=("$@"); break; fi
  layers+=("$1"); shift
done
((${#layers[@]})) || layers=(lint sanity pytest molecule)
for layer in "${layers[@]}"; do
  case "$layer" in lint|sanity|pytest|molecule) ;; *) echo "unknown layer: $layer (lint, sanity, pytest, molecule)" >&2; exit 2 ;; esac
done

tools/setup.sh --test || exit 1
venv="${LAMBDA_K3S_VENV:-$repo/.venv}"
export PATH="$venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$repo/collections"
# Tests never talk to the real Lambda Cloud API, whatever the caller's shell exports, and the
# caller's settings (a cluster name, request pacing, an inventory configuration) do not change them.
unset LAMBDA_API_KEY LAMBDA_API_KEY_FILE LAMBDA_API_URL LAMBDA_K3S_CLUSTER LAMBDA_K3S_MEMBER_NAMES LAMBDA_K3S_MEMBER_PATTERN \
  LAMBDA_K3S_WHOLE_ACCOUNT LAMBDA_REQUEST_INTERVAL LAMBDA_INVENTORY_CONFIG

apt_install() {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The Python the sanity tests run on (the controller's; see pyproject.toml).
sanity_python=3.11

run_lint() {
  ansible-lint --profile production "${extra[@]}"
}

run_sanity() {
  # ansible-test wants the collection at a path ending in ansible_collections/<ns>/<name>, and no
  # virtualenv or leftovers inside it: test a clean copy of the files git knows about.
  local root="${TMPDIR:-/tmp}/sophia-lambda-k3s-sanity"
  local copy="$root/ansible_collections/sophia/lambda_k3s"
  rm -rf "$root" && mkdir -p "$copy"
  git ls-files -co --exclude-standard -z | grep -zv '^collections/' | tar --null -T - -c | tar -x -C "$copy"
  # ansible-test keeps its pip bootstrap and sanity virtualenvs under ~/.ansible/test. It runs with a HOME
  # of its own, so the stand-in bootstrap below never reaches the user's ~/.ansible/test/cache, where it
  # would change every later ansible-test run on the machine, for any collection.
  local home
  home=$(ansible_test_home) || return 1
  prepare_ansible_test_pip "$home"
  # Without shellcheck, ansible-test skips its shell-script test with only a warning.
  command -v shellcheck >/dev/null || apt_install shellcheck || return 1
  # pip still reads the user's configuration (index, certificates) and cache from their usual places.
  local config="${XDG_CONFIG_HOME:-$HOME/.config}" cache="${XDG_CACHE_HOME:-$HOME/.cache}"
  (cd "$copy" && HOME="$home" XDG_CONFIG_HOME="$config" XDG_CACHE_HOME="$cache" \
    ansible-test sanity --python "$sanity_python" --requirements --color no "${extra[@]}")
}

ansible_test_home() {
  # The project's git-ignored .cache/. Virtualenv scripts there start with a shebang of about 80 characters
  # more than this path, and Linux reads at most 127: from a deeper checkout, a per-user directory under TMPDIR.
  local home="$repo/.cache/ansible-test"
  ((${#home} <= 45)) || home="${TMPDIR:-/tmp}/sophia-lambda-k3s-ansible-test-$(id -u)"
  mkdir -p "$home" && chmod 700 "$home" && echo "$home"
}

prepare_ansible_test_pip() {
  # ansible-test bootstraps pip in each sanity virtualenv from a script it downloads from a host
  # that is not reachable here, with PIP_CONFIG_FILE=/dev/null. This stand-in does the same job
  # with the interpreter's bundled pip and the system CA bundle, in ansible-test's HOME ($1).
  local version
  # The pip version ansible-test pins for the sanity Python; 24.2 (ansible-core 2.19) should its
  # internal API ever move.
  version=$(python - "$sanity_python" <<'PY'
import sys
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(SimpleNamespace(version=sys.argv[1]))["pip"].replace(".", "_"))
PY
) || version=24_2
  local script="$1/.ansible/test/cache/get_pip_${version}.py"
  [[ -f "$script" ]] && return 0
  mkdir -p "$(dirname "$script")"
  cat >"$script" <<'PY'
"""Stand-in for ansible-test's get-pip bootstrap (written by tools/test.sh)."""
import ensurepip
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
arguments = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--cert", "/etc/ssl/certs/ca-certificates.crt"] + arguments))
PY
}

run_pytest() {
  # The end-to-end test starts the local lab: node containers reached over SSH.
  tools/docker-engine.sh || return 1
  command -v ssh-keygen >/dev/null || apt_install openssh-client || return 1
  python -m pytest "${extra[@]}"
  local status=$?
  if ((status == 5)); then
    echo "pytest collected no tests: that is a failure here, not a pass" >&2
    return 1
  fi
  return $status
}

run_molecule() {
  tools/docker-engine.sh || return 1
  tools/node-image.sh >/dev/null || return 1
  if ((${#extra[@]})); then
    molecule test "${extra[@]}"
  else
    molecule test --all
  fi
}

passed=0
failed=0
failed_layers=()
for layer in "${layers[@]}"; do
  say "Layer: $layer"
  started=$SECONDS
  if "run_$layer"; then
    passed=$((passed + 1))
    say "Layer $layer passed in $((SECONDS - started)) s"
  else
    failed=$((failed + 1))
    failed_layers+=("$layer")
    say "Layer $layer FAILED after $((SECONDS - started)) s"
  fi
done

((failed)) && echo "failed layers: ${failed_layers[*]}" >&2
echo "layers: $passed passed, $failed failed"
((failed == 0))
