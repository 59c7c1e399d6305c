// configuration committed by mistake
export const client = createClient({ apiKey: "HR{{}}KU-AA{{b64u:58}}" });
