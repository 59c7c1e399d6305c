import { createHash } from "node:crypto";

/*
 * Keys that providers print in their own documentation. They are public and revoked (or never
 * issued), and they are copied into READMEs, tutorials and tests everywhere. Each is kept as the
 * SHA-256 of its text, so this repository holds no key-shaped string for a scanner to flag;
 * test/scan/support/documented-examples.ts holds them split in two parts for the tests.
 */
const DOCUMENTED_EXAMPLES: ReadonlyMap<string, string> = new Map([
  // Firebase: the `apiKey` example of FirebaseOptions (JavaScript SDK reference), and the
  // shorter one of the web set-up guide.
  ["95a4db2dd430bb3f690bf0c7487f3bc86017ee3030c65ed28f9c66141c4d99d7", "Firebase FirebaseOptions.apiKey"],
  ["279a2219c2388e7f062e82cf79c635e61ee39772b9516af952db98a5406886d3", "Firebase web set-up"],
  // GitHub REST and OAuth documentation: one token body with each prefix, and the OAuth
  // guide's 40-hex access token.
  ["3543c50b0cb9cea8e55eb1f529b79f043cb250d485fde7b66cabbb5183add7da", "GitHub docs (ghp_)"],
  ["bc3ae723f57c6b9e3fd80b699fcc420f6074b0b1718039669d22631d508ac0a7", "GitHub docs (gho_)"],
  ["82e74299544e00738f9c0acb69b1eb348b3e20ffcfabcb34779bd37590fead6c", "GitHub docs (ghu_)"],
  ["797c0ce414586cc8eb6929afe947c720e3e4d351dd070a6fe39f630beaab3054", "GitHub docs (ghs_)"],
  ["0cecafe4ec4766065c64799e2d0fc466059f86526e0a45b883de0fb856435236", "GitHub docs (ghr_)"],
  ["86007eb367696d3202a93e1ef98e8e9e04d0cda1229fa053f126b08dcfcfc200", "GitHub OAuth guide"],
  // The Fernet specification's test vectors (github.com/fernet/spec): the key, and its signing
  // and encryption halves in hex, as every Fernet implementation's tests carry them.
  ["d88a2cb53b61ef4d6fe8923a89129d437a293f6cd1a951ff09b94f971a88d585", "Fernet specification test key"],
  [
    "52ae00d18069f9c00cdfdb7046adc4be8b7d1fbae7c898b6f2a2b3df003b756a",
    "Fernet specification test key (signing half)",
  ],
  [
    "a2cc9d83eba97c7ba3f47352868da75a4b2cdac9d2b1e01e187baa1f045a3446",
    "Fernet specification test key (encryption half)",
  ],
  // dotenvx's documentation: the example private key of its README and API reference.
  ["f6556a4297425e6146a44378b09d7e90f254753ffdf276d6085480ffd98edc6f", "dotenvx documentation private key"],
  // Shopify's changelog on the longer app secret keys and access tokens: one example of each kind.
  ["465ad9db7ec327cead73d0776993e1d29e2b5cb5fe7686d26b288c00fdffa092", "Shopify changelog (app secret key)"],
  [
    "96494af0ff15d729c97b5a558ad218ceded3c7285a4ed63670adf6693c1354f4",
    "Shopify changelog (public app access token)",
  ],
  [
    "5aca5b5c3515155c00aeda60aabfc5066d7d79f278a73f7d21328f1b2b556496",
    "Shopify changelog (custom app access token)",
  ],
  [
    "1548bbe8e262d795bceac88cfba1e16f7579f72becd581506b2908441c790dcc",
    "Shopify changelog (legacy private app)",
  ],
  // 1Password's service-account security page: the Secret Key inside its example token.
  [
    "4861b7d682dcbc5a83cc31d7559004e645ff52ad8eb7b7a94e27192280dd25d3",
    "1Password service-account documentation (Secret Key)",
  ],
  // AWS IAM documentation (the AWS rules also drop any key ending in EXAMPLE).
  ["1a5d44a2dca19669d72edf4c4f1c27c4c1ca4b4408fbb17f6ce4ad452d78ddb3", "AWS access key ID"],
  ["78314b11be2e581549ac1c4f616563fad3fdf0c3b71678f6e2299182080e0598", "AWS secret access key"],
]);

/** Which documentation a value is the example key of, if it is one. */
export function documentedExample(value: string): string | undefined {
  if (value.length < 16 || value.length > 128) return undefined;
  return DOCUMENTED_EXAMPLES.get(createHash("sha256").update(value, "latin1").digest("hex"));
}
