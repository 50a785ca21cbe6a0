#!/usr/bin/env bash
# Regenerates (or with --check, verifies) the out-of-domain evaluation sets in ood/ (issue #13):
#   1. runs scripts/setup.sh, which installs the Debian font packages of the font set;
#   2. runs `mpcvit ood` (release build) from the converted test splits in data/.
# The sets are deterministic given the seed (13), the test splits and the font files; the
# committed ones were made with the Debian 12 (bookworm) versions of the font packages that
# scripts/setup.sh lists.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"

./scripts/setup.sh   # the font packages and data/, skipping what is there
cargo run --release -- ood "$@"
