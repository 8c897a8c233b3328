#!/usr/bin/env bash
# Fails when `buf generate` would change gen/ (generated code is committed, never edited by hand).
set -euo pipefail
cd "$(dirname "$0")/../.."
npx buf generate
if ! git diff --quiet -- gen/ || [ -n "$(git status --porcelain --untracked-files=all -- gen/)" ]; then
  echo "gen-up-to-date: gen/ differs from what buf generate produces; run npm run generate and commit" >&2
  git status --short -- gen/ >&2
  exit 1
fi
echo "gen-up-to-date: gen/ matches the protos"
