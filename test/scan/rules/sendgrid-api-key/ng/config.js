// configuration committed by mistake
export const client = createClient({ apiKey: "S{{}}G.{{b64u:22}}.{{b64u:43}}" });
