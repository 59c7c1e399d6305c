#!/usr/bin/env bash
# Runs keyhold's whole test suite (unit, CLI, invariants, real systemd-creds, real systemd in a
# container, real PostgreSQL, real keyring daemon) after installing what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx biome lint src test bench fuzz
# Only *.test.js files are tests: node --test given a directory named "test" would also run every
# support module and fixture under it.
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
node --test --test-concurrency=2 "${files[@]}"
# Every fuzz target replays its seed corpus (fuzz/corpus/), so a parser that breaks on one fails
# here; `npm run fuzz` is the long run (docs/security-testing.md).
KEYHOLD_FUZZ_NO_BUILD=1 bash scripts/fuzz.sh --regression
