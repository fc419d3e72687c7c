#!/usr/bin/env bash
# Installs what is missing, builds limiterd (Release) and starts it in the
# foreground with conf/limiterd.conf (port 6390 on 127.0.0.1). Extra
# arguments are directives: scripts/run.sh --port 7000 --threads 4
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DLIMITERD_BUILD_TESTS=OFF >/dev/null
if [[ -f server/CMakeLists.txt ]]; then
  ninja -C build/release limiterd
  exec build/release/server/limiterd conf/limiterd.conf "$@"
fi
# Until the daemon lands (issue 3), run the embedded example.
ninja -C build/release embedded_example
exec build/release/examples/embedded_example
