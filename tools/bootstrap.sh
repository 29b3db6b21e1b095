#!/usr/bin/env bash
# Prepare this machine for `make test` / `make demo`: Debian packages, the Python environments and
# the ansible-test pip stand-in. Idempotent and quick when everything is already in place.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lab/common.sh
. "$root/lab/common.sh"

install_debian_packages() {
  # shellcheck disable=SC2046
  lab_ensure_packages $(grep -v '^#' "$root/tools/debian-packages.txt")
}

# A virtualenv on Debian's python3 that also sees Debian's python3-* packages, so that the engine is
# tested with the library versions operators' hosts have. Rebuilt when its requirements change.
ensure_venv() {
  local venv=$1 requirements=$2 site=$3
  local stamp="$venv/.requirements.sha256"
  local want
  want=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "preparing $(basename "$venv") from $(basename "$requirements")"
  rm -rf "$venv"
  /usr/bin/python3 -m venv $site "$venv"
  # pip's log goes to a file (its warnings about this machine's find-links are noise); shown on failure.
  if ! "$venv/bin/pip" install --disable-pip-version-check -r "$requirements" >"$venv.pip.log" 2>&1; then
    tail -40 "$venv.pip.log" >&2
    return 1
  fi
  echo "$want" > "$stamp"
}

# ansible-test bootstraps pip in its sanity venvs with a get-pip script it downloads from a host this
# machine cannot reach. The stand-in it accepts in its cache uses the interpreter's ensurepip and
# then installs the pinned pip through the reachable package index.
install_get_pip_standin() {
  local version
  version=$("$root/.venv/bin/python" - <<'PY'
import re, ansible_test, pathlib
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1).replace(".", "_"))
PY
)
  local target="$HOME/.ansible/test/cache/get_pip_${version}.py"
  [ -f "$target" ] && return 0
  mkdir -p "$(dirname "$target")"
  install -m 0644 "$root/tools/get_pip_standin.py" "$target"
}

install_debian_packages
ensure_venv "$root/.venv" "$root/requirements.txt" --system-site-packages
ensure_venv "$root/.venv-s3" "$root/tests/servers/requirements-s3.txt" ""
ensure_venv "$root/.venv-core217" "$root/tests/compat/requirements-core217.txt" --system-site-packages
install_get_pip_standin
