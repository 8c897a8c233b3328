#!/usr/bin/env bash
# Regenerates sdks/go/gen from proto/caas with pinned plugin versions installed into sdks/go/.bin
# (go install; the Go module proxy serves them). Run from anywhere; commit the result.
set -euo pipefail
cd "$(dirname "$0")"
export GOBIN="$PWD/.bin" GOFLAGS=-mod=mod
go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
cd ../..
npx buf generate --template sdks/go/buf.gen.yaml --path proto/caas
