// configuration committed by mistake
export const client = createClient({ apiKey: "gs{{}}k_{{alnum:52}}" });
