#!/usr/bin/env bash
# `make demo` must converge the lab and a second run must change nothing: run the demo's converge twice
# and fail if the second run reports any change or failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lab/lab.sh up
ansible-playbook -i inventories/lab/hosts.yml playbooks/site.yml >/dev/null
recap=$(ansible-playbook -i inventories/lab/hosts.yml playbooks/site.yml | sed -n '/PLAY RECAP/,$p')
echo "$recap"
if echo "$recap" | grep -E 'changed=[1-9]|failed=[1-9]|unreachable=[1-9]' >/dev/null; then
  echo "the second converge of the lab was not idempotent" >&2
  exit 1
fi
echo "second converge of the lab changed nothing"
