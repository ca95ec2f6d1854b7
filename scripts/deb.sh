#!/usr/bin/env bash
# Builds lvsd's Debian package, .build/lvsd_VERSION_amd64.deb, with nfpm:
# stages the binary (static, no cgo: see director/privilege), the man
# pages and shell completions it generates from its cobra commands, a
# changelog and the copyright file, then lets nfpm assemble them with
# scripts/deb/nfpm.yaml. Prints the package's path.
#
# VERSION: a tag vX.Y.Z on HEAD gives X.Y.Z; otherwise 0.0~gitDATE.HASH
# (sorts before any release), +dirty with uncommitted changes. Override with
# DEB_VERSION=..., the maintainer with DEB_MAINTAINER="Name <mail>".
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
NFPM=${NFPM:-"$GO run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0"}
out=.build/deb

# Reproducible: every date (man pages, changelog, archive members) is the
# commit's.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
if [ -z "${DEB_VERSION:-}" ]; then
  if tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null); then
    DEB_VERSION=${tag#v}
  else
    DEB_VERSION=0.0~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).$(git rev-parse --short=7 HEAD)
  fi
  [ -z "$(git status --porcelain --untracked-files=no)" ] || DEB_VERSION+=+dirty
fi
export DEB_VERSION
export DEB_MAINTAINER=${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>')}

rm -rf "$out" .build/lvsd_*.deb # one package: README installs .build/lvsd_*_amd64.deb
mkdir -p "$out/man" "$out/completion"
CGO_ENABLED=0 $GO build -trimpath -buildmode=pie -ldflags "-s -w -X main.version=$DEB_VERSION" -o "$out/lvsd" ./cmd/lvsd

"$out/lvsd" man "$out/man"
gzip -9n "$out"/man/*.8
"$out/lvsd" completion bash >"$out/completion/lvsd"
"$out/lvsd" completion zsh >"$out/completion/_lvsd"

# A native package's changelog: this snapshot and the commits leading to it.
{
  echo "lvsd ($DEB_VERSION) unstable; urgency=medium"
  echo
  echo "  * Built from commit $(git rev-parse --short=12 HEAD); latest changes:"
  git log -10 --format='%s' | while read -r subject; do
    fold -s -w 70 <<<"$subject" | sed 's/[[:space:]]*$//; 1s/^/    - /; 2,$s/^/      /'
  done
  echo
  echo " -- $DEB_MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$out/changelog.gz"

# copyright: lvsd's own notice, then the license of Go and of every module
# linked into the binary, read from the module cache. A module without a
# license file fails the build rather than ship without its license.
modcache=$($GO env GOMODCACHE)
{
  cat scripts/deb/copyright
  printf '\n%s\n\nGo %s (the standard library and runtime)\n\n' "----" "$($GO env GOVERSION)"
  cat "$($GO env GOROOT)/LICENSE"
  $GO version -m "$out/lvsd" | awk '$1 == "dep" { print $2, $3 }' | while read -r mod ver; do
    # The module cache escapes capitals as !lower.
    dir="$modcache/$(sed 's/[A-Z]/!\L&/g' <<<"$mod")@$ver"
    mapfile -t lic < <(find "$dir" -maxdepth 1 -type f \( -iname 'licen[cs]e*' -o -iname 'copying*' -o -iname 'notice*' \) | sort)
    # github.com/hkwi/nlgo states its BSD licence in its README alone.
    [ ${#lic[@]} -gt 0 ] || mapfile -t lic < <(grep -lis 'license' "$dir"/README* || true)
    if [ ${#lic[@]} -eq 0 ]; then
      echo "deb: no license found for $mod $ver in $dir" >&2
      exit 1
    fi
    printf '\n%s\n\n%s %s\n' "----" "$mod" "$ver"
    for f in "${lic[@]}"; do
      printf '\n%s:\n\n' "$(basename "$f")"
      if grep -q 'TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION' "$f"; then
        # Debian ships the Apache 2.0 text; policy 12.5 wants a reference.
        grep -E '^[[:space:]]*Copyright' "$f" | grep -v '\[yyyy\]' || true
        echo "Licensed under the Apache License, Version 2.0; on Debian systems its"
        echo "full text is in /usr/share/common-licenses/Apache-2.0."
      else
        tr -d '\r' <"$f"
      fi
    done
  done
} >"$out/copyright"

$NFPM package -f scripts/deb/nfpm.yaml -p deb -t .build/ >&2
echo ".build/lvsd_${DEB_VERSION}_amd64.deb"
