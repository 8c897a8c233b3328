#!/usr/bin/env bash
# Licenses of the runtime dependencies, read from the SBOM that tests/ci/sbom.sh wrote (run it
# first), listed to ${CAAS_ARTIFACTS:-.ci/artifacts}/licenses.tsv and checked against
# tests/ci/license-allowlist.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${CAAS_ARTIFACTS:-.ci/artifacts}"
if [ ! -s "$out/sbom.cdx.json" ]; then
  echo "licenses: $out/sbom.cdx.json is missing: run tests/ci/sbom.sh first" >&2
  exit 1
fi
node tests/ci/license-check.mjs "$out/sbom.cdx.json" tests/ci/license-allowlist.json "$out/licenses.tsv"
