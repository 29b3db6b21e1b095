#!/usr/bin/env bash
# Build the collection tarball, install it into an empty collections path, and resolve its roles,
# plugins and modules by FQCN from the installed copy (not the work tree).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /var/tmp/mutuapix-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

ansible-galaxy collection build "$root" --output-path "$work/dist" --force >/dev/null
tarball=$(ls "$work"/dist/mutuapix-infra-*.tar.gz)
echo "built $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
if tar -tzf "$tarball" | grep -E '^(tests|molecule|lab|tools|benchmarks|\.venv)' ; then
  echo "the tarball carries development files that build_ignore should drop" >&2
  exit 1
fi
ansible-galaxy collection install --force "$tarball" -p "$work/installed" >/dev/null 2>&1

export ANSIBLE_COLLECTIONS_PATH="$work/installed"
ansible-doc -t filter mutuapix.infra.secret_weakness >/dev/null
for module in $(find "$root/plugins/modules" -name '*.py' -printf '%f\n' | sed 's/\.py$//'); do
  ansible-doc -t module "mutuapix.infra.$module" >/dev/null
done
cat > "$work/fqcn.yml" <<'PLAY'
- name: Resolve the installed collection by FQCN
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the role's argument spec and the filter from the installed copy
      ansible.builtin.include_role:
        name: mutuapix.infra.base
        tasks_from: check_secrets
      vars:
        build_check_secret: N4rq8WcYpZ3sLx0aVd6TeB1u
        base_check_secret_names: [build_check_secret]
PLAY
ansible-playbook -i localhost, -c local "$work/fqcn.yml" >/dev/null
echo "installed collection resolves roles, filters and modules by FQCN"
