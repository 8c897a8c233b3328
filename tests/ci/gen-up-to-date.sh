#!/usr/bin/env bash
# Fails when `buf generate` would change gen/ or the TypeScript SDK's sdks/ts/src/gen (generated
# code is committed, never edited by hand).
set -euo pipefail
cd "$(dirname "$0")/../.."
npx buf generate
npx buf generate --template sdks/ts/buf.gen.yaml
for dir in gen/ sdks/ts/src/gen/; do
  if ! git diff --quiet -- "$dir" || [ -n "$(git status --porcelain --untracked-files=all -- "$dir")" ]; then
    echo "gen-up-to-date: $dir differs from what buf generate produces; run npm run generate and commit" >&2
    git status --short -- "$dir" >&2
    exit 1
  fi
done
echo "gen-up-to-date: gen/ and sdks/ts/src/gen match the protos"
