// configuration committed by mistake
export const client = createClient({ apiKey: "do{{}}p_v1_{{hex:64}}" });
