import { defineRule, looksLikePlaceholder } from "../rule.js";

// Passwords that documentation and local development setups use on purpose.
// GitHub's `x-oauth-basic` is a fixed word sent with a token in the user name.
const STAND_INS =
  /^(?:pass(?:word|wd)?|pwd|secret|changeme|postgres|mysql|root|admin|test|guest|user(?:name)?|example|x-oauth-basic|\*+|x+)$/i;

// A "password" that says it is one (`somepassword`, `my-secret`) is documentation.
const NAMES_ITSELF = /passw|secret/i;

/**
 * git's credential store (`~/.git-credentials`, `$XDG_CONFIG_HOME/git/credentials`): one
 * `scheme://user:password@host[/path]` a line, the user and password percent-encoded. Every
 * password in it is one git sends, so each is read whatever its shape or length (a token with
 * `+/=` is written `%2B%2F%3D`, and longer than any URL password elsewhere).
 */
const GIT_CREDENTIALS_FILE = /(?:^|\/)(?:\.git-credentials|git\/credentials)$/;
const GIT_CREDENTIAL = /^[ \t]*[a-z][a-z0-9+.-]{0,20}:\/\/[^\s:/@]{0,256}:(?<secret>[^\s@]{1,4096})@[^\s@]/gm;
// GitHub's older form puts the token (20 characters or more) in the user and a fixed word in
// the password.
const GIT_CREDENTIAL_TOKEN_USER =
  /^[ \t]*[a-z][a-z0-9+.-]{0,20}:\/\/(?<secret>[^\s:/@]{20,4096}):x-oauth-basic@[^\s@]/gm;

/** The bytes a percent-encoded password stands for (a broken escape is kept as written). */
function percentDecoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export default defineRule({
  id: "url-credentials",
  title: "password in a URL",
  provider: "the service the URL points at",
  keywords: ["://"],
  // Anchored on "://" (the scheme is checked behind it), so other positions fail at once.
  pattern:
    /:\/\/(?<=(?<![A-Za-z0-9+.-])[a-z][a-z0-9+.-]{1,20}:\/\/)[^\s:/@'"`<>]{1,64}:(?<secret>[^\s:/@'"`<>\\]{6,128})@[A-Za-z0-9.[\]-]+/g,
  forms: [
    { context: "git-credentials", pattern: GIT_CREDENTIAL, paths: GIT_CREDENTIALS_FILE, alone: true },
    {
      context: "git-credentials",
      pattern: GIT_CREDENTIAL_TOKEN_USER,
      paths: GIT_CREDENTIALS_FILE,
      alone: true,
    },
  ],
  confirm: (secret, _groups, _before, context) => {
    // Any shape, but not the fixed word, nor a reference (`${TOKEN}`) or a template's stand-in
    // (`{{token}}`, `<token>`, `your-token-here`) as written: git would have written `$`, `{`
    // and `<` percent-encoded, so these are hand-written documentation.
    if (context === "git-credentials")
      return (
        percentDecoded(secret) !== "x-oauth-basic" &&
        !/^\$\{?[A-Za-z_]/.test(secret) &&
        !looksLikePlaceholder(secret)
      );
    return (
      !STAND_INS.test(secret) &&
      !NAMES_ITSELF.test(secret) &&
      !looksLikePlaceholder(secret) &&
      !/^[$%{]/.test(secret)
    );
  },
  revoke: "change the password of that account on the service",
});
