#!/usr/bin/env bash
# Runs keyhold's whole test suite (unit, CLI, invariants, real systemd-creds, real systemd in a
# container, real PostgreSQL, real keyring daemon) after installing what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx biome lint src test bench
# Only *.test.js files are tests: node --test given a directory named "test" would also run every
# support module and fixture under it.
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
node --test --test-concurrency=2 "${files[@]}"
