// configuration committed by mistake
export const client = createClient({ apiKey: "{{digit:10}}:A{{}}A{{b64u:33}}" });
