// configuration committed by mistake
export const client = createClient({ apiKey: "{{alnum:3}}{{digit:1}}Q{{}}~{{alnum:34}}" });
