// configuration committed by mistake
export const client = createClient({ apiKey: "np{{}}m_{{alnum:36}}" });
