#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 2m).
set -euo pipefail
FUZZTIME=${FUZZTIME:-2m}
found=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"${line#*:}")
  pkg=./$(dirname "$file")
  found=$((found + 1))
  echo "== $pkg $name ($FUZZTIME)"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg"
done < <(grep -rEn --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . | sed -E 's/^([^:]*):[0-9]+:/\1:/')
[ "$found" -gt 0 ] || { echo "fuzz: no fuzz targets found" >&2; exit 1; }
echo "fuzz: $found target(s) ran for $FUZZTIME each without a crash"
