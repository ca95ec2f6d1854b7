#!/usr/bin/env bash
# Passes `go test -v` output through and ends with one line counting the
# tests that passed, failed and were skipped, so a skipped test is seen.
# The caller runs it under pipefail, so go test's own status decides.
set -uo pipefail
pass=0 fail=0 skip=0
while IFS= read -r line; do
  printf '%s\n' "$line"
  case "$line" in
    *"--- PASS:"*) pass=$((pass + 1)) ;;
    *"--- FAIL:"*) fail=$((fail + 1)) ;;
    *"--- SKIP:"*) skip=$((skip + 1)) ;;
  esac
done
echo "${1:-tests}: $pass passed, $fail failed, $skip skipped"
exit 0
