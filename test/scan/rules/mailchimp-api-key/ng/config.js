// configuration committed by mistake
export const client = createClient({ apiKey: "{{hex:32}}-u{{}}s14" });
