#!/usr/bin/env bash
# Regenerates sdks/go/gen from proto/caas with the plugin versions pinned in
# tests/infra/versions.env, installed into sdks/go/.bin (go install; the Go module proxy serves
# them). Run from anywhere; commit the result.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../../tests/infra/versions.env
source ../../tests/infra/versions.env
export GOBIN="$PWD/.bin" GOFLAGS=-mod=mod
go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
go install "connectrpc.com/connect/cmd/protoc-gen-connect-go@$PROTOC_GEN_CONNECT_GO_VERSION"
go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
cd ../..
npx buf generate --template sdks/go/buf.gen.yaml --path proto/caas
