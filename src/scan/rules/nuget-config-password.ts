import { defineRule, plausibleKeyBody } from "../rule.js";

/**
 * A package source password written in clear in a NuGet.Config (`<add key="ClearTextPassword"
 * value="…" />`). Encrypted `Password` values only decrypt for the user and machine that wrote them.
 */
export default defineRule({
  id: "nuget-config-password",
  title: "NuGet package source password in clear text",
  provider: "NuGet",
  keywords: ["ClearTextPassword", "cleartextpassword"],
  pattern:
    /[Cc]lear[Tt]ext[Pp]assword["'][ \t]{1,20}value[ \t]{0,4}=[ \t]{0,4}(?<quote>["'])(?<secret>[^"'\r\n]{6,512})\k<quote>/g,
  // A chosen password is no random key, so a lower bar (2.5 bits a character); stand-ins
  // (`your-password`) and references to variables (`%FEED_PASSWORD%`, `$(Var)`, `${VAR}`) do not count.
  confirm: (secret) => plausibleKeyBody(secret, 2.5) && !/^%[^%]+%$|\$\(/.test(secret),
  revoke: "revoke the password or token at the package feed and keep the new one out of NuGet.Config",
});
