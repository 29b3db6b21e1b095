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
# tested with the library versions operators' hosts have. Virtualenvs live in a machine-wide cache keyed
# by the hash of their requirements, and the work tree links to them: a fresh clone on the same machine
# (as CI makes) reuses them, and a change of requirements builds a new one beside the old.
VENV_CACHE=${MUTUAPIX_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mutuapix-infra/venvs}

ensure_venv() {
  local link=$1 requirements=$2 site=$3
  local want venv
  want=$(cat "$requirements" /usr/bin/python3 2>/dev/null | sha256sum | cut -c1-16)
  venv="$VENV_CACHE/$(basename "$link" | tr -d .)-$want"
  if [ ! -f "$venv/.complete" ]; then
    echo "preparing $venv from $(basename "$requirements")"
    rm -rf "$venv"
    mkdir -p "$VENV_CACHE"
    /usr/bin/python3 -m venv ${site:+"$site"} "$venv"
    # pip's log goes to a file (its warnings about this machine's find-links are noise); shown on failure.
    if ! "$venv/bin/pip" install --disable-pip-version-check -r "$requirements" >"$venv/pip.log" 2>&1; then
      tail -40 "$venv/pip.log" >&2
      return 1
    fi
    touch "$venv/.complete"
  fi
  # An older checkout may have a real folder here; the link replaces it.
  [ -L "$link" ] || rm -rf "$link"
  ln -sfn "$venv" "$link"
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
