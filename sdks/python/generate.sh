#!/usr/bin/env bash
# Regenerates the Python stubs (src/caas/**, src/buf/validate) from proto/caas with grpcio-tools
# (pinned in pyproject.toml's "dev" extra). Run from anywhere with the SDK's venv active, or let
# tests/ci/python-sdk.sh create it. The vendored grpc/health and reflection protos are NOT
# generated: they would shadow the real `grpc` package.
set -euo pipefail
cd "$(dirname "$0")"
py="${PYTHON:-python}"
root=../..
rm -rf src/caas/auth src/caas/chat src/caas/events src/caas/gateway src/caas/media src/caas/realtime src/caas/search src/buf
mkdir -p src
mapfile -t protos < <(cd "$root/proto" && find caas -name '*.proto' | sort)
"$py" -m grpc_tools.protoc -I"$root/proto" -I"$root/vendor/proto" --python_out=src --pyi_out=src --grpc_python_out=src "${protos[@]}"
"$py" -m grpc_tools.protoc -I"$root/vendor/proto" --python_out=src --pyi_out=src buf/validate/validate.proto
# Regular packages (not namespace packages), so that setuptools finds and ships them.
find src/caas src/buf -type d -exec sh -c 'for d; do [ -f "$d/__init__.py" ] || : > "$d/__init__.py"; done' _ {} +
