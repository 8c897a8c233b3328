#!/usr/bin/env bash
# The Python SDK: a venv with the package and its dev extra (sdks/python/.venv), the generated
# stubs must match the protos, then pytest (its smoke test starts an embedded platform from
# services/platform/dist: run `npm run build` first; npm test's pretest does).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=sdks/python/.venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -e "sdks/python[dev]"
PYTHON="$PWD/$venv/bin/python" sdks/python/generate.sh
if [ -n "$(git status --porcelain -- sdks/python/src)" ]; then
  git status --short -- sdks/python/src | head -20
  echo "python-sdk: sdks/python/src differs from what sdks/python/generate.sh produces: regenerate and commit it" >&2
  exit 1
fi
set +e
(cd sdks/python && "../../$venv/bin/python" -m pytest -q -p no:cacheprovider)
rc=$?
set -e
# pytest exits 5 when it collected no test: that is a broken suite, not a pass.
if [ "$rc" -eq 5 ]; then echo "python-sdk: pytest collected no tests" >&2; exit 1; fi
exit "$rc"
