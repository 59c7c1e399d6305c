import { defineRule, entropyOf, looksLikePlaceholder } from "../rule.js";

const KEY_LIKE = /key|secret|token|pass|pwd|credential|auth|private|dsn|database_url|conn/i;

/**
 * A value in a `.env` file that git tracks (or is about to). `.env.example`, `.sample`,
 * `.template`, `.dist` and `.defaults` files are meant to be committed and are not scanned by
 * this rule. Values encrypted by dotenvx (`encrypted:…`) and references (`${OTHER}`) are fine.
 */
export default defineRule({
  id: "dotenv-tracked",
  title: "secret in a tracked .env file",
  provider: "the service the value belongs to",
  paths: /(?:^|\/)(?:\.env(?:\.(?!example$|sample$|template$|dist$|defaults?$)[^/]+)?|[^/]+\.env)$/,
  keywords: ["="],
  // A quoted value runs to its closing quote; an unquoted one to the last non-blank character
  // before a comment (#) or the end of the line. Both are written greedily, each ending at a
  // character the trailing blanks cannot match, so a long run of blanks is read once (a lazy
  // value followed by [ \t]* re-read it for every character: quadratic in the line length).
  pattern:
    /^[ \t]*(?:export[ \t]+)?(?<name>[A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*(?<quote>["']?)(?<secret>(?<=["'])[^\s"'#][^\r\n"']*|(?<!["'])[^\s"'#](?:[^\r\n"'#]*[^ \t\r\n"'#])?)\k<quote>[ \t]*(?:#[^\r\n]*)?$/gm,
  confirm: (secret, groups) =>
    !secret.startsWith("encrypted:") &&
    !secret.startsWith("${") &&
    !looksLikePlaceholder(secret) &&
    ((KEY_LIKE.test(groups.name ?? "") && secret.length >= 6) ||
      (secret.length >= 16 && entropyOf(secret) >= 3.5)),
  revoke:
    "revoke the value at the service that issued it, store the new one with keyhold, and stop tracking the file",
});
