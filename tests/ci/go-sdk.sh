#!/usr/bin/env bash
# The Go SDK: sdks/go/gen must match the protos (regenerated with the pinned plugins), then go vet
# and go test, whose smoke test starts an embedded platform from services/platform/dist (run
# `npm run build` first; npm test's pretest does).
set -euo pipefail
cd "$(dirname "$0")/../.."
sdks/go/generate.sh
if [ -n "$(git status --porcelain -- sdks/go/gen)" ]; then
  git status --short -- sdks/go/gen | head -20
  echo "go-sdk: sdks/go/gen differs from what sdks/go/generate.sh produces: regenerate and commit it" >&2
  exit 1
fi
cd sdks/go
go vet ./...
go test -count=1 ./...
