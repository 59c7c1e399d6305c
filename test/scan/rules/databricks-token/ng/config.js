// configuration committed by mistake
export const client = createClient({ apiKey: "da{{}}pi{{hex:32}}" });
