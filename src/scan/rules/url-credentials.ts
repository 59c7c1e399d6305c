import { defineRule, looksLikePlaceholder } from "../rule.js";

// Passwords that documentation and local development setups use on purpose.
const STAND_INS =
  /^(?:pass(?:word|wd)?|pwd|secret|changeme|postgres|mysql|root|admin|test|guest|user(?:name)?|example|\*+|x+)$/i;

// A "password" that says it is one (`somepassword`, `my-secret`) is documentation.
const NAMES_ITSELF = /passw|secret/i;

export default defineRule({
  id: "url-credentials",
  title: "password in a URL",
  provider: "the service the URL points at",
  keywords: ["://"],
  // Anchored on "://" (the scheme is checked behind it), so other positions fail at once.
  pattern:
    /:\/\/(?<=(?<![A-Za-z0-9+.-])[a-z][a-z0-9+.-]{1,20}:\/\/)[^\s:/@'"`<>]{1,64}:(?<secret>[^\s:/@'"`<>\\]{6,128})@[A-Za-z0-9.[\]-]+/g,
  confirm: (secret) =>
    !STAND_INS.test(secret) &&
    !NAMES_ITSELF.test(secret) &&
    !looksLikePlaceholder(secret) &&
    !/^[$%{]/.test(secret),
  revoke: "change the password of that account on the service",
});
