#!/usr/bin/env bash
# buf breaking (FILE rules) against a base commit of main; every violation must be covered by an
# entry in proto/BREAKING.md (a deliberate break before release), never a silent slip.
# Usage: tests/ci/proto-breaking.sh [base-ref]   (default: HEAD~1, the previous commit of main)
set -euo pipefail
cd "$(dirname "$0")/../.."
base="${1:-${CAAS_BREAKING_BASE:-HEAD~1}}"
if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
  echo "proto-breaking: no base commit $base (first commit?): nothing to compare"
  exit 0
fi
# (git cat-file, not `ls-tree | grep -q`: under pipefail grep's early exit SIGPIPEs ls-tree on a
# large tree and the check would wrongly skip.)
if ! git cat-file -e "$base:buf.yaml" 2>/dev/null; then
  echo "proto-breaking: $base has no buf.yaml: nothing to compare"
  exit 0
fi
out="$(mktemp)"
if npx buf breaking --against ".git#ref=$(git rev-parse "$base")" --error-format json >"$out" 2>&1; then
  echo "proto-breaking: no breaking change against $base"
  exit 0
fi
# Entries in proto/BREAKING.md: table rows "| <file> | <RULE_ID> | <reason> |".
uncovered=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  file="$(node -e 'const v=JSON.parse(process.argv[1]); process.stdout.write(v.path||"")' "$line" 2>/dev/null || true)"
  rule="$(node -e 'const v=JSON.parse(process.argv[1]); process.stdout.write(v.type||"")' "$line" 2>/dev/null || true)"
  if [ -z "$rule" ]; then echo "proto-breaking: $line"; uncovered=1; continue; fi
  if grep -Eq "^\|[[:space:]]*\`?${file}\`?[[:space:]]*\|[[:space:]]*\`?${rule}\`?[[:space:]]*\|" proto/BREAKING.md; then
    echo "proto-breaking: allowed by proto/BREAKING.md: $file $rule"
  else
    echo "proto-breaking: NOT ALLOWED: $line"
    uncovered=1
  fi
done <"$out"
if [ "$uncovered" -ne 0 ]; then
  echo "proto-breaking: breaking changes against $base are not listed in proto/BREAKING.md" >&2
  exit 1
fi
