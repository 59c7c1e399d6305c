// configuration committed by mistake
export const client = createClient({ apiKey: "NR{{}}AK-{{UA:27}}" });
