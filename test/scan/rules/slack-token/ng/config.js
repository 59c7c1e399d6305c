// configuration committed by mistake
export const client = createClient({ apiKey: "xo{{}}xb-{{digit:12}}-{{digit:13}}-{{alnum:24}}" });
