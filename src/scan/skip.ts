import type { ArchiveSkip } from "./archives.js";

/**
 * Why a file is not scanned. The first three are choices (noise control and a size bound); the
 * last three mean content that should have been scanned was not, and the summary says so:
 * "unreadable" (a listed file that could not be opened or read), "outside-root" (a file whose
 * real path leaves the scanned tree through a symlinked directory) and "missing" (a blob the
 * repository does not have, as in a partial clone). The "archive-…" ones are limits met inside an
 * archive (archives.ts): each also gives a warning naming the archive.
 */
export type SkipReason =
  | "binary"
  | "lockfile"
  | "too-large"
  | "unreadable"
  | "outside-root"
  | "missing"
  | ArchiveSkip;

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

function baseName(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? path : path.slice(slash + 1);
}

/** Decides from the name alone (before reading), so skipped files cost nothing. */
export function skipByName(path: string): SkipReason | undefined {
  const name = baseName(path);
  if (LOCK_FILES.has(name)) return "lockfile";
  if (BINARY_EXTENSIONS.test(name)) return "binary";
  return undefined;
}

/**
 * Decides from the content: a NUL byte in the first 8000 bytes means binary (git's own rule).
 * Minified bundles and source maps are scanned like any text: keys inlined into a front-end
 * bundle are a common leak, and across 720 minified files (155 MiB) on the reference machine the
 * rules found nothing else there.
 */
export function skipByContent(_path: string, bytes: Uint8Array): SkipReason | undefined {
  return bytes.subarray(0, 8000).includes(0) ? "binary" : undefined;
}
