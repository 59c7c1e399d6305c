// configuration committed by mistake
export const client = createClient({ apiKey: "S{{}}K{{hex:32}}" });
