// configuration committed by mistake
export const client = createClient({ apiKey: "PM{{}}AK-{{hex:24}}-{{hex:34}}" });
