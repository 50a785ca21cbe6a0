#!/usr/bin/env bash
# Runs every test of the project, in order, and prints a summary:
#   setup (scripts/setup.sh), rustfmt, clippy (native and wasm32, warnings are errors), native
#   unit + integration + doc tests, every wasm-bindgen-test suite tests/wasm_*.rs (each suite
#   declares its own environment: node, browser or dedicated worker; the browser ones run in
#   headless Chromium through chromedriver with the options of webdriver.json), then the page's
#   end-to-end tests (after scripts/build-wasm.sh): tests/e2e/page.test.mjs (everything in the
#   tab) and tests/e2e/remote.test.mjs (the tab as client of a native `mpcvit serve` and
#   `mpcvit dealer` it starts on loopback WebSocket ports; the release binary comes from the
#   native tests' build).
# A failing step does not stop the later ones (so one run shows every problem); the script
# exits non-zero if any step failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
export PATH="$HOME/.cargo/bin:$PATH"

./scripts/setup.sh

# wasm-bindgen-test-runner: which chromedriver, which capabilities, and a generous time budget
# (its default of 20 s is for a whole browser suite, too short for protocol tests).
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="${WASM_BINDGEN_TEST_WEBDRIVER_JSON:-$root/webdriver.json}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}"
# For the page test (playwright-core drives the system Chromium).
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

names=()
results=()
times=()
failed=0
start_all=$(date +%s)

step() {
    local name=$1
    shift
    printf '\n\033[1;34m==> %s\033[0m\n    %s\n' "$name" "$*"
    local t0
    t0=$(date +%s)
    if "$@"; then
        results+=("ok")
    else
        results+=("FAILED")
        failed=1
    fi
    names+=("$name")
    times+=("$(($(date +%s) - t0))")
}

shopt -s nullglob
suites=(tests/wasm_*.rs)
shopt -u nullglob
wasm_targets=(--lib --bins)
for file in "${suites[@]}"; do wasm_targets+=(--test "$(basename "$file" .rs)"); done

step "rustfmt" cargo fmt --check
step "clippy (native)" cargo clippy --all-targets -- -D warnings
# src/wasm and the wasm suites exist only on wasm32, so they are linted there too.
step "clippy (wasm32)" cargo clippy --target wasm32-unknown-unknown "${wasm_targets[@]}" -- -D warnings
step "native tests" cargo test --release

if [ ${#suites[@]} -eq 0 ]; then
    echo "no tests/wasm_*.rs suites found"
fi
for file in "${suites[@]}"; do
    suite=$(basename "$file" .rs)
    step "wasm suite $suite" cargo test --release --target wasm32-unknown-unknown --test "$suite"
done

if [ -f tests/e2e/page.test.mjs ]; then
    step "build wasm package" ./scripts/build-wasm.sh
    step "page end-to-end" node tests/e2e/page.test.mjs
    step "page remote end-to-end" node tests/e2e/remote.test.mjs
else
    echo "tests/e2e/page.test.mjs not present: page test skipped"
fi

printf '\n\033[1m==== summary (%d s total) ====\033[0m\n' "$(($(date +%s) - start_all))"
for i in "${!names[@]}"; do
    if [ "${results[$i]}" = ok ]; then colour='1;32'; else colour='1;31'; fi
    printf '  \033[%sm%-7s\033[0m %-32s %5d s\n' "$colour" "${results[$i]}" "${names[$i]}" "${times[$i]}"
done
if [ "$failed" != 0 ]; then
    printf '\033[1;31mFAILED\033[0m\n'
    exit 1
fi
printf '\033[1;32mall tests passed\033[0m\n'
