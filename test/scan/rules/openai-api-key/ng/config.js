// configuration committed by mistake
export const client = createClient({ apiKey: "sk-proj-{{b64u:40}}T3Blbk{{}}FJ{{b64u:40}}" });
