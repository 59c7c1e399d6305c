// configuration committed by mistake
export const client = createClient({ apiKey: "gl{{}}sa_{{alnum:32}}_{{hex:8}}" });
