/**
 * Why a file is not scanned. The first four are choices (noise control and a size bound); the
 * last three mean content that should have been scanned was not, and the summary says so:
 * "unreadable" (a listed file that could not be opened or read), "outside-root" (a file whose
 * real path leaves the scanned tree through a symlinked directory) and "missing" (a blob the
 * repository does not have, as in a partial clone).
 */
export type SkipReason =
  | "binary"
  | "lockfile"
  | "minified"
  | "too-large"
  | "unreadable"
  | "outside-root"
  | "missing";

export const DEFAULT_MAX_SIZE = 8 * 1024 * 1024;

// Generated dependency manifests: full of hashes and integrity strings, never hand-edited.
const LOCK_FILES = new Set([
  "package-lock.json",
  "npm-shrinkwrap.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "bun.lockb",
  "bun.lock",
  "Cargo.lock",
  "Gemfile.lock",
  "poetry.lock",
  "Pipfile.lock",
  "composer.lock",
  "go.sum",
  "mix.lock",
  "flake.lock",
  "packages.lock.json",
  "pdm.lock",
  "uv.lock",
  "deno.lock",
]);

const BINARY_EXTENSIONS =
  /\.(?:png|jpe?g|gif|bmp|ico|webp|tiff?|psd|pdf|zip|gz|tgz|bz2|xz|zst|7z|rar|jar|war|class|so|dylib|dll|exe|o|a|wasm|woff2?|ttf|otf|eot|mp[34]|mov|avi|webm|ogg|flac|wav|sqlite3?|db|pyc)$/i;
const MINIFIED_NAME = /\.min\.(?:js|mjs|cjs|css)$|\.(?:js|mjs|cjs|css)\.map$/i;
const MINIFIABLE = /\.(?:js|mjs|cjs|css|html?)$/i;
const NEWLINE = 0x0a;

function baseName(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? path : path.slice(slash + 1);
}

/** Decides from the name alone (before reading), so skipped files cost nothing. */
export function skipByName(path: string): SkipReason | undefined {
  const name = baseName(path);
  if (LOCK_FILES.has(name)) return "lockfile";
  if (BINARY_EXTENSIONS.test(name)) return "binary";
  if (MINIFIED_NAME.test(name)) return "minified";
  return undefined;
}

/**
 * Decides from the content: a NUL byte in the first 8000 bytes means binary (git's own rule);
 * a large script or stylesheet whose lines average over 1000 bytes is minified.
 */
export function skipByContent(path: string, bytes: Uint8Array): SkipReason | undefined {
  const head = bytes.subarray(0, 8000);
  if (head.includes(0)) return "binary";
  if (bytes.length > 4096 && MINIFIABLE.test(path)) {
    let lines = 1;
    for (let i = bytes.indexOf(NEWLINE); i >= 0; i = bytes.indexOf(NEWLINE, i + 1)) lines++;
    if (bytes.length / lines > 1000) return "minified";
  }
  return undefined;
}
