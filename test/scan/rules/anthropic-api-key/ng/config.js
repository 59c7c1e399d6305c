// configuration committed by mistake
export const client = createClient({ apiKey: "sk-ant-{{}}api03-{{b64u:93}}AA" });
