#!/usr/bin/env bash
# Checks a package built by scripts/deb.sh (or builds one): lintian finds
# no error and no warning (the justified ones are overridden in
# scripts/deb/lintian-overrides, each with its reason), and the package
# holds what it must: the binary, the unit, the configuration as
# conffiles, man pages, completions, changelog and copyright.
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
echo "deb-check: $deb: lintian clean, contents complete"
