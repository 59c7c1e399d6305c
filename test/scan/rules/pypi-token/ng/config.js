// configuration committed by mistake
export const client = createClient({ apiKey: "py{{}}pi-AgEIcHlwaS5vcmc{{b64u:70}}" });
