// configuration committed by mistake
export const client = createClient({ apiKey: "h{{}}f_{{upper:4}}{{alpha:26}}{{lower:4}}" });
