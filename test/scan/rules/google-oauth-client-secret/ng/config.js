// configuration committed by mistake
export const client = createClient({ apiKey: "GOC{{}}SPX-{{b64u:28}}" });
