#!/usr/bin/env bash
# `make demo` must work on the lab, and converging the fleet again must change nothing: run the whole
# demo, then converge once more and fail if that second converge reports any change or failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lab/demo.sh >/var/tmp/mutuapix-demo.log 2>&1 || { tail -60 /var/tmp/mutuapix-demo.log; exit 1; }
grep -A4 '"msg"' /var/tmp/mutuapix-demo.log | tail -40
recap=$(ansible-playbook -i inventories/lab/hosts.yml playbooks/site.yml | sed -n '/PLAY RECAP/,$p')
echo "$recap"
if echo "$recap" | grep -E 'changed=[1-9]|failed=[1-9]|unreachable=[1-9]' >/dev/null; then
  echo "the second converge of the lab was not idempotent" >&2
  exit 1
fi
echo "second converge of the lab changed nothing"
