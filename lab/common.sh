# Shared settings and helpers of the lab scripts (sourced, not run).
# shellcheck shell=bash disable=SC2034  # settings are read by the scripts that source this file

LAB_IMAGE_NAME=${LAB_IMAGE_NAME:-mutuapix-lab/debian12}
LAB_DEBIAN_MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
LAB_IMAGE_PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,iproute2,procps,gnupg

# Install Debian packages that are missing; a no-op (and no apt-get update) when all are present.
lab_ensure_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# A Docker engine must answer; install docker.io and start dockerd when none does.
lab_ensure_docker() {
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null 2>&1 || lab_ensure_packages docker.io
  echo "starting dockerd"
  mkdir -p /var/log/mutuapix-lab
  nohup dockerd >/var/log/mutuapix-lab/dockerd.log 2>&1 &
  local _
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "dockerd did not start; see /var/log/mutuapix-lab/dockerd.log" >&2
  return 1
}
