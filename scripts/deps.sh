#!/usr/bin/env bash
# Installs the Debian packages that `make test` needs. Idempotent and quiet:
# when everything is present it only checks and exits.
set -euo pipefail

PKGS=(qemu-system-x86 busybox-static cpio kmod iproute2 nftables iputils-ping
      ipvsadm keepalived ldirectord nginx xz-utils procps prometheus chromium
      python3-aiosmtpd iputils-arping lintian systemd util-linux stress-ng)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi

# Refresh the package lists when they are empty or older than a day.
lists=/var/lib/apt/lists
if [ -z "$(find "$lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
  echo "deps: apt-get update"
  $SUDO apt-get update -qq
fi

# nginx, keepalived and ldirectord would start as services on this host when installed;
# the tests start their own copies inside namespaces, so forbid that here.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  made_policy=1
fi
trap '[ $made_policy -eq 1 ] && $SUDO rm -f "$policy"' EXIT

echo "deps: installing ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
