#!/usr/bin/env bash
# Sets up, builds the wasm package and serves the demo on http://127.0.0.1:8080/ (PORT and HOST
# override). The repository root is served: / redirects to /www/, and the page reaches the
# bindings at /pkg/ and the shipped models at /models/ (see scripts/serve.mjs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
./scripts/build-wasm.sh
exec node scripts/serve.mjs
