#!/usr/bin/env bash
# Builds keyhold_<version>_<arch>.deb with dpkg-deb: keyhold under /usr/lib/keyhold (the files
# `npm pack` ships and their production dependencies), /usr/bin/keyhold linked to its entry point,
# the man page keyhold(1) and the bash and zsh completions (dist/share, rendered from the command
# table). <arch> is this machine's: the dependencies include native modules (libsodium's binding,
# the keyring's), so the package is not architecture-independent.
#   bash scripts/package-deb.sh [OUTPUT_DIR]     (default: the current directory)
# Needs node, npm and dpkg-deb; dependencies come from npm's cache when it has them.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath "${1:-.}")"
version="$(node -p 'require("./package.json").version')"
arch="$(dpkg --print-architecture)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The packed files (prepack builds, so the bundle is fresh; KEYHOLD_DEB_NO_BUILD=1 packs the
# build there is), unpacked where the package keeps them.
npm pack --silent ${KEYHOLD_DEB_NO_BUILD:+--ignore-scripts} --pack-destination "$work" >/dev/null
root="$work/root"
mkdir -p "$root/usr/lib/keyhold" "$root/usr/bin" "$root/DEBIAN"
tar -xzf "$work/keyhold-$version.tgz" -C "$root/usr/lib/keyhold" --strip-components=1 --no-same-owner
(cd "$root/usr/lib/keyhold" && npm install --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error --ignore-scripts >/dev/null)
rm -f "$root/usr/lib/keyhold/package-lock.json"
ln -s ../lib/keyhold/bin/keyhold.js "$root/usr/bin/keyhold"
chmod -R u=rwX,go=rX "$root/usr"
chmod 0755 "$root/usr/lib/keyhold/bin/keyhold.js"

# The man page and completions, where man, bash-completion and zsh look for them.
cp -r "$root/usr/lib/keyhold/dist/share/." "$root/usr/share/"
gzip -9n "$root/usr/share/man/man1/keyhold.1"
install -d -m 0755 "$root/usr/share/doc/keyhold"
cp LICENSE "$root/usr/share/doc/keyhold/copyright"

size="$(du -sk "$root/usr" | cut -f1)"
cat >"$root/DEBIAN/control" <<CONTROL
Package: keyhold
Version: $version
Architecture: $arch
Maintainer: keyhold contributors <keyhold@invalid.invalid>
Depends: nodejs (>= 20), systemd (>= 250)
Installed-Size: $size
Section: admin
Priority: optional
Description: keep API keys encrypted at rest with systemd credentials
 keyhold stores API keys and other credentials encrypted with systemd-creds and hands them
 only to the processes that need them: a CLI, hardened units, a job server, a vault and a
 leak scanner, and a Node.js library (loadSecret).
CONTROL

mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out/keyhold_${version}_${arch}.deb" >/dev/null
echo "$out/keyhold_${version}_${arch}.deb"
