#!/usr/bin/env bash
# Prepare the controller environment in .venv: Ansible with the collections this one needs,
# ansible-runner, PyYAML and the lambda-k3s command; with --test, also everything the test suites need.
# Safe to run again: it reinstalls only when pyproject.toml changed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="${LAMBDA_K3S_VENV:-$repo/.venv}"
extra=""
[[ "${1:-}" == "--test" ]] && extra="[test]"

say() { printf '==> %s\n' "$*" >&2; }

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "Python 3.11 or newer is required (found: $("$python" --version 2>&1 || echo none)); set PYTHON=/path/to/python3.11"
  exit 1
fi

if [[ ! -x "$venv/bin/python" ]]; then
  say "Creating the Python environment in $venv"
  "$python" -m venv "$venv"
fi

# The stamp records the pyproject.toml it was installed from and whether test extras came too;
# a missing lambda-k3s command (an environment made before it existed) installs again as well.
stamp="$venv/.sophia-lambda-k3s-installed"
digest=$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)
installed=$(cat "$stamp" 2>/dev/null || true)
if [[ "$installed" != "$digest [test]" && "$installed" != "$digest $extra" || ! -x "$venv/bin/lambda-k3s" ]]; then
  say "Installing Python dependencies${extra:+ with test extras}"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # Install the dependencies pyproject.toml declares
  # (and what building the command's package needs), then the command itself.
  "$venv/bin/python" - "$repo/pyproject.toml" "${extra:+test}" > "$venv/requirements.txt" <<'PY'
import sys, tomllib
pyproject = tomllib.load(open(sys.argv[1], "rb"))
project = pyproject["project"]
wanted = list(project["dependencies"]) + list(pyproject["build-system"]["requires"])
if sys.argv[2]:
    wanted += project["optional-dependencies"][sys.argv[2]]
print("\n".join(wanted))
PY
  "$venv/bin/python" -m pip install --quiet -r "$venv/requirements.txt"
  # lambda-k3s (tools/lambda_k3s_cli), editable: it runs the playbooks of this checkout, as they are.
  "$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation --editable "$repo"
  echo "$digest $extra" > "$stamp"
fi

# Ansible reaches every node (Lambda's or the local lab's) with the OpenSSH client.
if ! command -v ssh >/dev/null 2>&1; then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "Installing the OpenSSH client"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-client >/dev/null
  else
    say "Install the OpenSSH client (ssh): Ansible reaches the nodes with it"
  fi
fi

# sophia.lambda_k3s resolves to this checkout through collections/ (see ansible.cfg).
link="$repo/collections/ansible_collections/sophia/lambda_k3s"
if [[ ! -L "$link" ]]; then
  mkdir -p "$(dirname "$link")"
  ln -sfn ../../.. "$link"
fi
say "Environment ready: . $venv/bin/activate"
