// configuration committed by mistake
export const client = createClient({ apiKey: "sk_{{}}live_{{alnum:24}}" });
