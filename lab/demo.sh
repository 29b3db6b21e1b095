#!/usr/bin/env bash
# The demo on the embedded lab (what `make demo` runs): converge the fleet, snapshot and restore a
# database, ship the snapshot off-site and restore it from there, run queue workers and probe them,
# then report what each host has.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
inventory=inventories/lab/hosts.yml

lab/lab.sh up
for playbook in playbooks/site.yml lab/demo_db.yml lab/demo_offsite.yml lab/demo_workers.yml lab/report.yml; do
  echo "=== $playbook ==="
  ansible-playbook -i "$inventory" "$playbook"
done
