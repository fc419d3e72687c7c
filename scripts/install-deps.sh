#!/usr/bin/env bash
# Installs what limiterd needs to build, run and test, from Debian's
# packages (and npm for the Node client used by the tests). Idempotent:
# installs only what is missing, so a second run costs a second.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libabsl-dev libxxhash-dev libfmt-dev libjemalloc-dev libssl-dev
  catch2 libbenchmark-dev
  redis-server redis-tools python3 python3-redis libhiredis-dev nodejs
  valgrind  # bench/instructions.sh
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's nodejs has npm apart; some nodejs builds bundle it.
if ! command -v npm >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# Node clients for the black-box tests (versions pinned in package-lock.json).
if [[ -f tests/blackbox/package.json && ! -d tests/blackbox/node_modules ]]; then
  (cd tests/blackbox && npm ci --no-audit --no-fund --loglevel=error)
fi
