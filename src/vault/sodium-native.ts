import { createRequire } from "node:module";

/**
 * sodium-native's own JavaScript, which Node.js loads from node_modules. The CLI's code-cached
 * bundle puts scripts/sodium-native.cjs in this module's place (scripts/bundle.mjs): the same
 * JavaScript bundled in, so that a command compiled from its V8 code cache does not resolve and
 * compile it anew. Its native binding (sodium-native/binding.js) comes from node_modules either way.
 */
export function sodiumNative(): unknown {
  return createRequire(import.meta.url)("sodium-native");
}
