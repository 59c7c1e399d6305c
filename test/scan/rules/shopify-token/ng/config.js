// configuration committed by mistake
export const client = createClient({ apiKey: "shp{{}}at_{{hex:32}}" });
