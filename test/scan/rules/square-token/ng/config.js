// configuration committed by mistake
export const client = createClient({ apiKey: "sq0{{}}csp-{{b64u:43}}" });
