#!/usr/bin/env bash
# Build the systemd node image the Molecule scenarios run on, once: no registry is reachable, so
# the root file system comes from Debian's archive with debootstrap and is imported into Docker.
# The image carries a digest of this script as a label, so changing the recipe builds it again.
set -euo pipefail
say() { printf '==> %s\n' "$*" >&2; }

suite=${NODE_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=systemd,systemd-sysv,python3,python3-apt,sudo,ca-certificates,gnupg,iproute2,procps,curl,kmod
digest=$(sha256sum <"${BASH_SOURCE[0]}" | cut -c1-12)
image=${LAMBDA_K3S_NODE_IMAGE:-sophia-lambda-k3s-node:$suite}

built=$(docker image inspect --format '{{ index .Config.Labels "recipe" }}' "$image" 2>/dev/null || true)
if [[ "$built" == "$digest" ]]; then
  say "Node image $image is cached"
  echo "$image"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  say "Installing debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

rootfs=$(mktemp -d /tmp/lambda-k3s-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
say "Building node image $image with debootstrap ($suite)"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >/tmp/lambda-k3s-debootstrap.log 2>&1 \
  || { tail -n 30 /tmp/lambda-k3s-debootstrap.log >&2; exit 1; }
# Debian's contrib/non-free components carry the NVIDIA driver packages the GPU roles install.
echo "deb $mirror $suite main contrib non-free non-free-firmware" > "$rootfs/etc/apt/sources.list"
# A container has no console to start getty on, and no hardware clock or udev to manage.
for unit in getty.target console-getty.service systemd-udevd.service systemd-udevd-kernel.socket systemd-udevd-control.socket \
  systemd-timesyncd.service systemd-remount-fs.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
# With the package lists gone, make them look stale so the first apt task refreshes them
# (cache_valid_time compares against this directory's age).
touch -d @0 "$rootfs/var/lib/apt/lists"
tar -C "$rootfs" -c . | docker import -c 'CMD ["/lib/systemd/systemd"]' -c 'ENV container=docker' -c "LABEL recipe=$digest" - "$image" >/dev/null
say "Built $image"
echo "$image"
