// configuration committed by mistake
export const client = createClient({ apiKey: "xa{{}}i-{{alnum:80}}" });
