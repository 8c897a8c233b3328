#!/usr/bin/env bash
# CycloneDX SBOM of what the image contains, written by npm itself (`npm sbom`, npm >= 10.1) to
# ${CAAS_ARTIFACTS:-.ci/artifacts}/sbom.cdx.json (gitignored), then checked
# (tests/ci/sbom-check.mjs).
#
# The image installs everything, builds, then runs `npm prune --omit=dev`. `npm sbom --omit dev`
# on the full tree is not that: it drops runtime packages that a dev dependency also names as a
# peer (@bufbuild/protobuf, @connectrpc/connect; npm/cli#7909). So the runtime tree is installed
# in a scratch directory the way the image gets it: the installed tree hard-linked (fast; npm
# ci's own tree, so the lockfile's versions), `npm prune --omit=dev`, the devDependencies dropped
# from package.json, and npm describes that tree. npm's hidden lockfile is unlinked first: npm
# rewrites it in place, which would write through the hard link into the real tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
out="${CAAS_ARTIFACTS:-.ci/artifacts}"
mkdir -p "$out"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp package.json package-lock.json "$scratch/"
for manifest in gen/package.json services/*/package.json; do
  mkdir -p "$scratch/$(dirname "$manifest")" && cp "$manifest" "$scratch/$manifest"
done
# Hard links need one filesystem; a scratch directory elsewhere gets a copy.
cp -al node_modules "$scratch/node_modules" 2>/dev/null || { rm -rf "$scratch/node_modules"; cp -a node_modules "$scratch/node_modules"; }
rm -f "$scratch/node_modules/.package-lock.json"
(
  cd "$scratch"
  npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
  node -e 'const fs = require("node:fs"); const p = JSON.parse(fs.readFileSync("package.json", "utf8")); delete p.devDependencies; fs.writeFileSync("package.json", JSON.stringify(p, null, 2));'
  npm sbom --sbom-format cyclonedx
) > "$out/sbom.cdx.json"
node tests/ci/sbom-check.mjs "$out/sbom.cdx.json"
echo "sbom: written to $root/$out/sbom.cdx.json"
