// configuration committed by mistake
export const client = createClient({ apiKey: "glp{{}}at-{{b64u:20}}" });
