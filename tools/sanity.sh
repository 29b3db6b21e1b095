#!/usr/bin/env bash
# Run `ansible-test sanity` on a copy of the work tree placed at ansible_collections/mutuapix/infra in a
# temporary tree (ansible-test requires that layout). Only files git tracks or would track are copied,
# so local environments and caches are never linted.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python_version=${SANITY_PYTHON:-3.11}
tree=$(mktemp -d /var/tmp/mutuapix-sanity.XXXXXX)
trap 'rm -rf "$tree"' EXIT
dest="$tree/ansible_collections/mutuapix/infra"
mkdir -p "$dest"
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$root" && rsync -a --from0 --files-from=- --ignore-missing-args ./ "$dest/")
cd "$dest"
ansible-test sanity --venv --python "$python_version" --color no "$@"
