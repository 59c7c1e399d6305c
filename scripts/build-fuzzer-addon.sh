#!/usr/bin/env bash
# Makes Jazzer.js's native addon loadable on this machine. The addon that @jazzer.js/fuzzer ships
# needs glibc 2.38 and GCC 13's libstdc++ (Debian 12 has 2.36 and GCC 12), and Jazzer.js's own
# build downloads a patched LLVM from outside the package registries. So, when the shipped addon
# does not load, it is built here from the C++ sources of @jazzer.js/fuzzer 2.1.0 (the last
# release that ships them; its native interface is the one 4.x calls), Debian's libFuzzer
# (libclang-rt-14-dev) and fuzz/native/libfuzzer-shim.cpp, which says what differs.
# Idempotent: does nothing when the addon loads.
set -euo pipefail
cd "$(dirname "$0")/.."

addon=node_modules/@jazzer.js/fuzzer/prebuilds/fuzzer-linux-x64.node
if node -e "require('./$addon')" 2>/dev/null; then exit 0; fi
[ "$(uname -m)" = x86_64 ] || { echo "build-fuzzer-addon: only x86_64 is supported" >&2; exit 1; }

libfuzzer=$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$libfuzzer" ]; then
  echo "build-fuzzer-addon: libFuzzer not found: apt-get install libclang-rt-14-dev" >&2
  exit 1
fi

work=node_modules/.cache/keyhold-fuzzer-addon
rm -rf "$work"
mkdir -p "$work"
# The sources come from the npm registry like every other package, checked against the digest
# recorded when this script was written.
npm pack @jazzer.js/fuzzer@2.1.0 --pack-destination "$work" --silent --loglevel=error >/dev/null
echo "cec4dd2849ec96867bfe1d711130ef7c1b699940d351432e9d80e0e5951821e8  $work/jazzer.js-fuzzer-2.1.0.tgz" |
  sha256sum --check --quiet
tar -xzf "$work/jazzer.js-fuzzer-2.1.0.tgz" -C "$work"
src=$work/package

node_include=$(dirname "$(readlink -f "$(command -v node)")")/../include/node
napi_include=$(node -p "require('node-addon-api').include_dir")
flags=(-std=c++17 -O2 -fPIC -fexceptions -DNAPI_VERSION=4 -DNAPI_CPP_EXCEPTIONS
  -I"$node_include" -I"$napi_include" -I"$src" -Ifuzz/native/include)
objects=()
for file in "$src"/*.cpp "$src"/shared/*.cpp; do
  object=$work/$(basename "$file" .cpp).o
  extra=()
  # The shim's RegisterCallbackExports adds registerModuleCounters to the original list.
  [ "$(basename "$file")" = callbacks.cpp ] && extra=(-DRegisterCallbackExports=RegisterOriginalCallbackExports)
  g++ "${flags[@]}" "${extra[@]}" -c "$file" -o "$object"
  objects+=("$object")
done
g++ "${flags[@]}" -c fuzz/native/libfuzzer-shim.cpp -o "$work/libfuzzer-shim.o"
wrap=_ZN6fuzzer12FuzzerDriverEPiPPPcPFiPKhmE
g++ -shared -o "$work/fuzzer.node" "${objects[@]}" "$work/libfuzzer-shim.o" \
  -Wl,--wrap=exit -Wl,--wrap="$wrap" \
  -Wl,--whole-archive "$libfuzzer" -Wl,--no-whole-archive -lpthread
node -e "require('./$work/fuzzer.node')"
[ -f "$addon.shipped" ] || mv "$addon" "$addon.shipped"
cp "$work/fuzzer.node" "$addon"
echo "build-fuzzer-addon: built $addon against $libfuzzer" >&2
