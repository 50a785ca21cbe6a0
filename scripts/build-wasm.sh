#!/usr/bin/env bash
# Builds the library for wasm32 and generates the ES-module bindings the page imports:
# pkg/mpcvit.js and pkg/mpcvit_bg.wasm (wasm-bindgen --target web). Respects CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"
target_dir="${CARGO_TARGET_DIR:-target}"
echo "[build-wasm] cargo build --release --lib --target wasm32-unknown-unknown"
cargo build --release --lib --target wasm32-unknown-unknown
echo "[build-wasm] wasm-bindgen --target web --out-dir pkg"
wasm-bindgen --target web --out-dir pkg "$target_dir/wasm32-unknown-unknown/release/mpcvit.wasm"
ls -l pkg/mpcvit.js pkg/mpcvit_bg.wasm
