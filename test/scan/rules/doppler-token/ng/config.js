// configuration committed by mistake
export const client = createClient({ apiKey: "dp.{{}}pt.{{alnum:43}}" });
