// configuration committed by mistake
export const client = createClient({ apiKey: "gh{{}}p_{{alnum:36}}" });
