// configuration committed by mistake
export const client = createClient({ apiKey: "sntr{{}}yu_{{hex:64}}" });
