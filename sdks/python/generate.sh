#!/usr/bin/env bash
# Regenerates the Python stubs (src/caas/**, src/buf/validate) from proto/caas with grpcio-tools
# (pinned in pyproject.toml's "dev" extra). Run from anywhere with the SDK's venv active, or let
# tests/ci/python-sdk.sh create it. The vendored grpc/health and reflection protos are NOT
# generated: they would shadow the real `grpc` package.
set -euo pipefail
cd "$(dirname "$0")"
py="${PYTHON:-python}"
root=../..
# Every package under src/caas is generated (the hand-written modules sit at its top level).
mkdir -p src/caas
find src/caas -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
rm -rf src/buf
mapfile -t protos < <(cd "$root/proto" && find caas -name '*.proto' | sort)
"$py" -m grpc_tools.protoc -I"$root/proto" -I"$root/vendor/proto" --python_out=src --pyi_out=src --grpc_python_out=src "${protos[@]}"
"$py" -m grpc_tools.protoc -I"$root/vendor/proto" --python_out=src --pyi_out=src buf/validate/validate.proto
# Regular packages (not namespace packages), so that setuptools finds and ships them.
find src/caas src/buf -type d -exec sh -c 'for d; do [ -f "$d/__init__.py" ] || : > "$d/__init__.py"; done' _ {} +
