// configuration committed by mistake
export const client = createClient({ apiKey: "{{alnum:14}}.atlas{{}}v1.{{b64u:67}}" });
