#!/usr/bin/env bash
# Regenerates (or with --check, verifies) the out-of-domain evaluation sets in ood/ (issue #13):
#   1. installs the Debian font packages of the font set with apt-get (as root, or with sudo);
#   2. runs `mpcvit ood` (release build) from the converted test splits in data/.
# The sets are deterministic given the seed (13), the test splits and the font files; the
# committed ones were made with the Debian 12 (bookworm) versions of the packages below.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"

packages=(fonts-dejavu-core fonts-dejavu-extra fonts-liberation2 fonts-freefont-ttf fonts-urw-base35 fonts-comic-neue fonts-cantarell)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "[ood] installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
[ -f data/mnist-test.bin ] || ./scripts/setup.sh
cargo run --release -- ood "$@"
