// configuration committed by mistake
export const client = createClient({ apiKey: "AGE-SECRET-{{}}KEY-1{{bech:58}}" });
