// configuration committed by mistake
export const client = createClient({ apiKey: "pp{{}}lx-{{alnum:48}}" });
