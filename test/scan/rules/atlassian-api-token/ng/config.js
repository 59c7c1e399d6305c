// configuration committed by mistake
export const client = createClient({ apiKey: "ATA{{}}TT3{{alnum:186}}" });
