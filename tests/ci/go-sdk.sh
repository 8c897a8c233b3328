#!/usr/bin/env bash
# The Go SDK: sdks/go/gen must match the protos (regenerated with the pinned plugins), then go vet
# and go test, whose smoke test starts an embedded platform from services/platform/dist (run
# `npm run build` first; npm test's pretest does).
set -euo pipefail
cd "$(dirname "$0")/../.."
# Generated code and the runtime libraries must be the same release.
# shellcheck source=../infra/versions.env
source tests/infra/versions.env
for pin in "google.golang.org/protobuf $PROTOC_GEN_GO_VERSION" "connectrpc.com/connect $PROTOC_GEN_CONNECT_GO_VERSION"; do
  if ! grep -q "^[[:space:]]*$pin\b" sdks/go/go.mod; then
    echo "go-sdk: sdks/go/go.mod does not require $pin (tests/infra/versions.env): keep the plugins and the libraries together" >&2
    exit 1
  fi
done
sdks/go/generate.sh
if [ -n "$(git status --porcelain -- sdks/go/gen)" ]; then
  git status --short -- sdks/go/gen | head -20
  echo "go-sdk: sdks/go/gen differs from what sdks/go/generate.sh produces: regenerate and commit it" >&2
  exit 1
fi
cd sdks/go
go vet ./...
go test -count=1 ./...
