// configuration committed by mistake
export const client = createClient({ apiKey: "hv{{}}s.{{b64u:94}}" });
