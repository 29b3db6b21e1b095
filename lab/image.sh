#!/usr/bin/env bash
# Build the lab's Debian 12 base image locally: debootstrap into a folder, then `docker import`.
# No registry is reachable from the lab machines, so nothing is ever pulled. The image tag carries
# a hash of this recipe, so the slow build is redone only when the recipe changes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab/common.sh
. "$here/common.sh"

recipe_hash() {
  sha256sum "$here/image.sh" "$here/common.sh" | sha256sum | cut -c1-12
}

build_rootfs() {
  local rootfs=$1
  debootstrap --variant=minbase --include="$LAB_IMAGE_PACKAGES" bookworm "$rootfs" "$LAB_DEBIAN_MIRROR"
  # systemd as PID 1 in a container: no getty on consoles that do not exist, no hostname/udev units
  # that need a real kernel interface.
  chroot "$rootfs" systemctl mask getty@tty1.service console-getty.service \
    systemd-udevd.service systemd-udevd-kernel.socket systemd-udevd-control.socket \
    systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
    systemd-firstboot.service systemd-remount-fs.service >/dev/null
  echo 'lab' > "$rootfs/etc/hostname"
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
    "$LAB_DEBIAN_MIRROR" "$LAB_DEBIAN_MIRROR" "$LAB_DEBIAN_MIRROR" > "$rootfs/etc/apt/sources.list"
  # Keep the image small and apt quiet in containers.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    > "$rootfs/etc/apt/apt.conf.d/90lab-no-recommends"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  # No package lists ship in the image: mark them as ancient so apt's cache_valid_time refreshes them.
  touch -d @0 "$rootfs/var/lib/apt/lists"
  : > "$rootfs/etc/machine-id"
}

main() {
  lab_ensure_docker
  local tag
  tag="$LAB_IMAGE_NAME:$(recipe_hash)"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "lab image $tag is up to date"
  else
    lab_ensure_packages debootstrap
    work=$(mktemp -d /var/tmp/mutuapix-lab-rootfs.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    echo "building lab image $tag (debootstrap bookworm, a few minutes)"
    build_rootfs "$work/rootfs"
    tar -C "$work/rootfs" --numeric-owner -c . |
      docker import --change 'CMD ["/lib/systemd/systemd"]' --change 'ENV container=docker' \
        - "$tag" >/dev/null
    echo "built lab image $tag"
  fi
  docker tag "$tag" "$LAB_IMAGE_NAME:latest"
}

main "$@"
