#!/usr/bin/env bash
# Installs Centrifugo, the real peer of the realtime benchmark (tests/bench/realtime.bench.mjs),
# into $CAAS_INFRA_HOME/bin with `go install` at the version in tests/infra/versions.env, once
# (a marker file records the version built). The benchmark's CI smoke runs it beside ours.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../infra/versions.env
source tests/infra/versions.env
home="${CAAS_INFRA_HOME:-${HOME:-/root}/.cache/caas-infra}"
bin="$home/bin"
mkdir -p "$bin"
if [ -x "$bin/centrifugo" ] && [ -f "$bin/.centrifugo-$CENTRIFUGO_VERSION" ]; then
  "$bin/centrifugo" version
  exit 0
fi
echo "building centrifugo $CENTRIFUGO_VERSION (go install; a few minutes on two cores)"
GOBIN="$bin" GOFLAGS=-mod=mod go install -ldflags "-X github.com/centrifugal/centrifugo/v6/internal/build.Version=${CENTRIFUGO_VERSION#v}" \
  "github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION" >"$home/centrifugo-build.log" 2>&1 \
  || { tail -30 "$home/centrifugo-build.log" >&2; exit 1; }
rm -f "$bin"/.centrifugo-*
touch "$bin/.centrifugo-$CENTRIFUGO_VERSION"
"$bin/centrifugo" version
