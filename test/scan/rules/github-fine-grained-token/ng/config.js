// configuration committed by mistake
export const client = createClient({ apiKey: "github_{{}}pat_{{alnum:22}}_{{alnum:59}}" });
