#!/usr/bin/env bash
# Installs what keyhold needs on a fresh Debian 12 machine with Node.js 20, then builds it.
# Safe to run again: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# groff-base, man-db and zsh: the tests render keyhold(1) and check the completions (test/cli/reference.test.ts).
debs=(systemd systemd-container postgresql gnome-keyring libsecret-tools dbus dbus-user-session git strace libclang-rt-14-dev groff-base man-db zsh)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "keyhold setup: needs root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "keyhold setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# `npm install --no-save` installs exactly what package-lock.json pins without rewriting it.
# (`npm ci` is refused here: npm 11 reports the lock "out of sync" because it lists only the
# platform packages of the optional native binaries that exist for linux.)
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-save --no-audit --no-fund --loglevel=error
fi
# The build also renders keyhold(1) and the bash and zsh completions into dist/share/ (scripts/share.mjs);
# README.md "Man page and shell completion" says how to install them system-wide.
npm run --silent build
# Jazzer.js's native addon, built here when the one its package ships does not load (fuzz/native/).
bash scripts/build-fuzzer-addon.sh
