#!/usr/bin/env bash
# Checks a package built by scripts/deb.sh (or builds one): lintian finds
# no error and no warning (the justified ones are overridden in
# scripts/deb/lintian-overrides, each with its reason), and the package
# holds what it must: the binary, the unit, the configuration as
# conffiles, man pages, completions, changelog and copyright; and the
# packaged unit's sandbox rates "OK" or better in systemd-analyze security.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=${1:-$(scripts/deb.sh)}
command -v lintian >/dev/null || { echo "deb-check: lintian is not installed (make deps)" >&2; exit 1; }

# --fail-on: lintian's exit status says whether it emitted an error or a
# warning. Not with --show-overrides: lintian then counts the overridden
# tags it shows as emitted.
lintian --fail-on error,warning --info "$deb"

list=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
conffiles=$(dpkg-deb -I "$deb" conffiles)
missing=0
for f in ./usr/sbin/lvsd ./lib/systemd/system/lvsd.service ./etc/lvsd/lvsd.yaml ./etc/lvsd/services.d/ \
  ./usr/share/man/man8/lvsd.8.gz ./usr/share/man/man8/lvsd-run.8.gz \
  ./usr/share/bash-completion/completions/lvsd ./usr/share/zsh/vendor-completions/_lvsd \
  ./usr/share/doc/lvsd/changelog.gz ./usr/share/doc/lvsd/copyright; do
  grep -qxF "$f" <<<"$list" || { echo "deb-check: $deb lacks $f" >&2; missing=1; }
done
for f in /etc/lvsd/lvsd.yaml /etc/lvsd/services.d/nginx.yaml /etc/lvsd/services.d/tomcat.yaml; do
  grep -qxF "$f" <<<"$conffiles" || { echo "deb-check: $f is not a conffile" >&2; missing=1; }
done
dpkg-deb -I "$deb" postinst | grep -q 'adduser .*--system.* lvsd' || { echo "deb-check: postinst does not create the user lvsd" >&2; missing=1; }
[ $missing -eq 0 ]

# The unit as packaged. Levels from worst: UNSAFE, EXPOSED, MEDIUM, OK, SAFE.
unit=$(mktemp -d)
trap 'rm -rf "$unit"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$unit" ./lib/systemd/system/lvsd.service
rating=$(systemd-analyze security --offline=yes --no-pager "$unit/lib/systemd/system/lvsd.service" |
  sed -n 's/.*Overall exposure level for lvsd.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
case "$rating" in
  *" OK" | *" SAFE") ;;
  *) echo "deb-check: lvsd.service exposure '$rating', want OK or SAFE" >&2; exit 1 ;;
esac
echo "deb-check: $deb: lintian clean, contents complete, lvsd.service exposure $rating"
