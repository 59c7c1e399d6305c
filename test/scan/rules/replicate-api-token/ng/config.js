// configuration committed by mistake
export const client = createClient({ apiKey: "r{{}}8_{{alnum:37}}" });
