#!/usr/bin/env bash
# keyhold's main job on a scratch store: nothing under /etc or /var is touched, and the
# machine's own credential key is not used (SYSTEMD_CREDENTIAL_SECRET points at a throwaway one).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2

scratch=$(mktemp -d /tmp/keyhold-demo.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
export KEYHOLD_STORE="$scratch/credstore.encrypted" KEYHOLD_STATE="$scratch/state"
export SYSTEMD_CREDENTIAL_SECRET="$scratch/host-credential.secret"
keyhold() { node bin/keyhold.js "$@"; }
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

# Two throwaway values of different lengths, so the byte counts show which one a program got.
first="demo-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
second="demo-rotated-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"

say "keyhold init";                                   keyhold init
say "printf '<first value>' | keyhold set demo_api_key"; printf '%s' "$first" | keyhold set demo_api_key
say "keyhold ls";                                     keyhold ls
say "keyhold run demo_api_key -- node examples/read-key.mjs"
keyhold run demo_api_key -- node examples/read-key.mjs
say "printf '<second value>' | keyhold rotate demo_api_key"; printf '%s' "$second" | keyhold rotate demo_api_key
say "keyhold run demo_api_key -- node examples/read-key.mjs"
keyhold run demo_api_key -- node examples/read-key.mjs
say "keyhold history demo_api_key";                   keyhold history demo_api_key
say "keyhold rollback demo_api_key";                  keyhold rollback demo_api_key
say "keyhold run demo_api_key -- node examples/read-key.mjs"
keyhold run demo_api_key -- node examples/read-key.mjs
say "keyhold doctor";                                 keyhold doctor
say "keyhold audit";                                  keyhold audit
say "keyhold audit --verify";                         keyhold audit --verify
say "grep -r <values> $scratch   # no plaintext anywhere on disk"
if grep -rqF -e "$first" -e "$second" "$scratch"; then echo "FOUND A PLAINTEXT VALUE" >&2; exit 1; else echo "no plaintext found"; fi
