// configuration committed by mistake
export const client = createClient({ apiKey: "lin_{{}}api_{{alnum:40}}" });
