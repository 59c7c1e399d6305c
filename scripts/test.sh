#!/usr/bin/env bash
# Runs keyhold's whole test suite (unit, CLI, invariants, real systemd-creds, real systemd in a
# container, real PostgreSQL, real keyring daemon) after installing what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx biome lint src test bench
node --test --test-concurrency=2 dist/test/
