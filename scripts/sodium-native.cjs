// In place of src/vault/sodium-native.ts in the code-cached CLI bundle (scripts/bundle.mjs): the
// same sodium-native, its JavaScript bundled, its native binding required from node_modules.
exports.sodiumNative = () => require("sodium-native");
