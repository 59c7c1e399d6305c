// configuration committed by mistake
export const client = createClient({ apiKey: "pu{{}}l-{{hex:40}}" });
