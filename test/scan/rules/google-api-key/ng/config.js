// configuration committed by mistake
export const client = createClient({ apiKey: "AI{{}}za{{b64u:35}}" });
