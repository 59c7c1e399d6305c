// configuration committed by mistake
export const client = createClient({ apiKey: "AK{{}}IA{{b32:16}}" });
