import { createHash } from "node:crypto";

/*
 * Synthetic keys for tests and benchmarks. Fixture files hold templates such as
 * `ghp_{{alnum:36}}`, never a key: the braces break every pattern, so this repository does not
 * trip secret scanners (GitHub push protection included). Expansion is deterministic: the
 * same seed gives the same characters, so snapshots are stable.
 */

const ALPHABETS: Record<string, string> = {
  alnum: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
  alpha: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
  upper: "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
  lower: "abcdefghijklmnopqrstuvwxyz",
  UA: "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  digit: "0123456789",
  lnum: "abcdefghijklmnopqrstuvwxyz0123456789",
  hex: "0123456789abcdef",
  HEX: "0123456789ABCDEF",
  b64: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
  b64u: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
  b32: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
  bech: "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
};

/** A deterministic byte stream (SHA-256 in counter mode) for reproducible fixtures. */
export class SeededRandom {
  #seed: string;
  #counter = 0;
  #pool: Buffer = Buffer.alloc(0);
  #at = 0;

  constructor(seed: string) {
    this.#seed = seed;
  }

  byte(): number {
    if (this.#at >= this.#pool.length) {
      this.#pool = createHash("sha256")
        .update(`${this.#seed}\0${this.#counter++}`)
        .digest();
      this.#at = 0;
    }
    return this.#pool[this.#at++]!;
  }

  /** Uniform integer in [0, n), n ≤ 65536. */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 65536) throw new RangeError(`below(${n}): n must be 1..65536`);
    const limit = 65536 - (65536 % n);
    for (;;) {
      const v = this.byte() * 256 + this.byte();
      if (v < limit) return v % n;
    }
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  chars(kind: string, length: number): string {
    const alphabet = ALPHABETS[kind];
    if (alphabet === undefined) throw new Error(`unknown template kind: ${kind}`);
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet[this.below(alphabet.length)];
    return out;
  }
}

/** Expands `{{kind:length}}` (and the empty `{{}}`, used to split literal prefixes). */
export function expandTemplate(template: string, random: SeededRandom): string {
  return template.replace(/\{\{(?:([A-Za-z0-9]+):(\d+))?\}\}/g, (_m, kind?: string, length?: string) =>
    kind === undefined ? "" : random.chars(kind, Number(length)),
  );
}

/**
 * One synthetic key per pattern rule, built from parts (templates), for the planted corpus and
 * the benchmark tree.
 */
export const KEY_TEMPLATES: Record<string, string> = {
  "openai-api-key": "sk-proj-{{b64u:40}}T3Blbk{{}}FJ{{b64u:40}}",
  "anthropic-api-key": "sk-ant-{{}}api03-{{b64u:93}}AA",
  "aws-access-key-id": "AK{{}}IA{{b32:16}}",
  "github-token": "gh{{}}p_{{alnum:36}}",
  "github-fine-grained-token": "github_{{}}pat_{{alnum:22}}_{{alnum:59}}",
  "gitlab-token": "glp{{}}at-{{b64u:20}}",
  "slack-token": "xo{{}}xb-{{digit:12}}-{{digit:13}}-{{alnum:24}}",
  "slack-webhook": "https://hooks.slack.com/{{}}services/T{{UA:10}}/B{{UA:10}}/{{alnum:24}}",
  "stripe-secret-key": "sk_{{}}live_{{alnum:24}}",
  "google-api-key": "AI{{}}za{{b64u:35}}",
  "google-oauth-client-secret": "GOC{{}}SPX-{{b64u:28}}",
  "azure-ad-client-secret": "{{alnum:3}}{{digit:1}}Q{{}}~{{alnum:34}}",
  "npm-token": "np{{}}m_{{alnum:36}}",
  "pypi-token": "py{{}}pi-AgEIcHlwaS5vcmc{{b64u:70}}",
  "huggingface-token": "h{{}}f_{{upper:4}}{{alpha:26}}{{lower:4}}",
  "twilio-api-key": "S{{}}K{{hex:32}}",
  "sendgrid-api-key": "S{{}}G.{{b64u:22}}.{{b64u:43}}",
  "mailchimp-api-key": "{{hex:32}}-u{{}}s14",
  "digitalocean-token": "do{{}}p_v1_{{hex:64}}",
  "shopify-token": "shp{{}}at_{{hex:32}}",
  "groq-api-key": "gs{{}}k_{{alnum:52}}",
  "databricks-token": "da{{}}pi{{hex:32}}",
  "telegram-bot-token": "{{digit:10}}:A{{}}A{{b64u:33}}",
  "discord-webhook": "https://discord.com/api/{{}}webhooks/{{digit:19}}/{{b64u:68}}",
  "linear-api-key": "lin_{{}}api_{{alnum:40}}",
  "doppler-token": "dp.{{}}pt.{{alnum:43}}",
  "atlassian-api-token": "ATA{{}}TT3{{alnum:186}}",
  "pulumi-token": "pu{{}}l-{{hex:40}}",
  "hashicorp-vault-token": "hv{{}}s.{{b64u:94}}",
  "terraform-cloud-token": "{{alnum:14}}.atlas{{}}v1.{{b64u:67}}",
  "postman-api-key": "PM{{}}AK-{{hex:24}}-{{hex:34}}",
  "newrelic-user-key": "NR{{}}AK-{{UA:27}}",
  "square-token": "sq0{{}}csp-{{b64u:43}}",
  "perplexity-api-key": "pp{{}}lx-{{alnum:48}}",
  "replicate-api-token": "r{{}}8_{{alnum:37}}",
  "xai-api-key": "xa{{}}i-{{alnum:80}}",
  "age-secret-key": "AGE-SECRET-{{}}KEY-1{{bech:58}}",
  "sentry-token": "sntr{{}}yu_{{hex:64}}",
  "grafana-token": "gl{{}}sa_{{alnum:32}}_{{hex:8}}",
  "heroku-api-key": "HR{{}}KU-AA{{b64u:58}}",
  "mapbox-secret-token": "s{{}}k.eyJ1Ijoi{{b64u:30}}.{{b64u:22}}",
  "maxmind-license-key": "{{alnum:6}}_{{alnum:29}}_mm{{}}k",
  "microsoft-teams-webhook":
    "https://contoso.webhook.office.com/web{{}}hookb2/{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}@{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}/IncomingWebhook/{{hex:32}}/{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}",
  "netlify-token": "nf{{}}p_{{alnum:36}}",
  "newrelic-insights-key": "NR{{}}II-{{b64u:32}}",
  "newrelic-license-key": "{{hex:36}}NR{{}}AL",
  "notion-token": "nt{{}}n_{{digit:11}}{{alnum:35}}",
  "nuget-api-key": "oy{{}}2{{lnum:43}}",
  "octopus-deploy-api-key": "AP{{}}I-{{UA:26}}",
  "openshift-user-token": "sha256{{}}~{{b64u:43}}",
  "plaid-access-token": "access-{{}}production-{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}",
  "planetscale-token": "pscale{{}}_tkn_{{b64u:43}}",
  "prefect-api-key": "pn{{}}u_{{alnum:36}}",
  "readme-api-key": "rd{{}}me_{{lnum:70}}",
  "rubygems-api-key": "ruby{{}}gems_{{hex:48}}",
  "scalingo-api-token": "tk-{{}}us-{{b64u:48}}",
  "settlemint-token": "sm_{{}}pat_{{alnum:16}}",
  "shippo-api-token": "ship{{}}po_live_{{hex:40}}",
  "slack-config-token": "xo{{}}xe.xoxp-1-{{alnum:163}}",
  "sonarqube-token": "sq{{}}u_{{hex:40}}",
  "sourcegraph-token": "sg{{}}p_{{hex:16}}_{{hex:40}}",
  "tailscale-key": "ts{{}}key-auth-k{{alnum:11}}CNTRL-{{alnum:33}}",
  "twitter-bearer-token": "AAAAAAAAAAAAAAAAAAAAA{{}}A{{alnum:40}}%3D{{alnum:40}}",
  "typeform-api-token": "tf{{}}p_{{b64u:59}}",
  "vercel-token": "vc{{}}p_{{alnum:24}}",
  "1password-secret-key": "A{{}}3-{{UA:6}}-{{UA:11}}-{{UA:5}}-{{UA:5}}-{{UA:5}}",
  "1password-service-account-token": "op{{}}s_eyJ{{b64:300}}",
  "adobe-client-secret": "p8{{}}e-{{alnum:32}}",
  "airtable-personal-access-token": "pa{{}}t{{alnum:14}}.{{hex:64}}",
  "alibaba-access-key-id": "LT{{}}AI5t{{alnum:18}}",
  "artifactory-token": "AK{{}}Cp{{alnum:69}}",
  "asana-personal-access-token": "1/{{digit:16}}:{{hex:32}}",
  "authress-access-key": "sc_{{alnum:10}}.{{alnum:4}}.ac{{}}c_{{alnum:10}}.{{b64u:40}}",
  "aws-bedrock-api-key": "AB{{}}SK{{b64:140}}",
  "brevo-api-key": "xkey{{}}sib-{{hex:64}}-{{alnum:16}}",
  "clickhouse-cloud-api-secret": "4b{{}}1d{{alnum:38}}",
  "clojars-api-token": "CLOJ{{}}ARS_{{hex:60}}",
  "cloudflare-token": "cf{{}}ut_{{alnum:40}}{{hex:8}}",
  "cloudflare-origin-ca-key": "v1.{{}}0-{{hex:24}}-{{hex:146}}",
  "contentful-personal-access-token": "CF{{}}PAT-{{b64u:43}}",
  "defined-networking-api-token": "dn{{}}key-{{alnum:26}}-{{alnum:52}}",
  "docker-access-token": "dckr{{}}_pat_{{b64u:27}}",
  "duffel-api-token": "duf{{}}fel_live_{{b64u:43}}",
  "dynatrace-api-token": "dt0{{}}c01.{{UA:24}}.{{UA:64}}",
  "easypost-api-key": "EZ{{}}AK{{alnum:54}}",
  "facebook-access-token": "EA{{}}AG{{alnum:180}}",
  "figma-access-token": "fig{{}}d_{{b64u:40}}",
  "flutterwave-secret-key": "FLW{{}}SECK_TEST-{{hex:32}}-X",
  "flyio-token": "fm{{}}2_{{b64:200}}",
  "frameio-api-token": "fio{{}}-u-{{b64u:64}}",
  "harness-api-key": "pa{{}}t.{{b64u:22}}.{{alnum:24}}.{{alnum:20}}",
  "hubspot-private-app-token": "pat{{}}-na1-{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}",
  "infracost-api-token": "ic{{}}o-{{alnum:32}}",
  "intra42-client-secret": "s-s4{{}}t2ud-{{hex:64}}",
};

/** How a planted key is written into a file, for rules that need context around the value. */
export const CONTEXT_TEMPLATES: Record<string, string> = {
  "aws-secret-access-key": 'aws_secret_access_key = "{{b64:40}}"',
  "azure-storage-account-key":
    "DefaultEndpointsProtocol=https;AccountName=store{{digit:4}};Account{{}}Key={{b64:86}}==;EndpointSuffix=core.windows.net",
  "private-key":
    "-----BEGIN RSA PRIVATE {{}}KEY-----\n{{b64:64}}\n{{b64:64}}\n{{b64:40}}==\n-----END RSA PRIVATE {{}}KEY-----",
  jwt: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.ey{{}}J{{b64u:40}}.{{b64u:43}}",
  "url-credentials": "postgres://app:{{alnum:20}}@db.internal:5432/app",
  "generic-secret-assignment": 'client_secret = "{{alnum:12}}{{digit:4}}{{alnum:16}}"',
  "launchdarkly-access-token":
    'LAUNCHDARKLY_SDK_KEY = "sd{{}}k-{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}"',
  "linear-client-secret": 'LINEAR_CLIENT_SECRET = "{{hex:32}}"',
  "linkedin-client-secret": 'LINKEDIN_CLIENT_SECRET = "{{alnum:16}}"',
  "lob-api-key": 'LOB_API_KEY = "liv{{}}e_{{hex:35}}"',
  "looker-client-secret": "looker_client_secret={{alnum:24}}",
  "mailgun-api-key": 'MAILGUN_API_KEY = "{{hex:32}}-{{hex:8}}-{{hex:8}}"',
  "mattermost-access-token": 'MATTERMOST_TOKEN = "{{lnum:26}}"',
  "messagebird-api-key": 'MESSAGEBIRD_ACCESS_KEY = "{{alnum:25}}"',
  "netlify-legacy-token": 'NETLIFY_AUTH_TOKEN = "{{b64u:43}}"',
  "nuget-config-password": '<add key="ClearText{{}}Password" value="{{alnum:24}}" />',
  "nytimes-api-key": 'NYTIMES_API_KEY = "{{alnum:32}}"',
  "okta-api-token": 'OKTA_API_TOKEN = "0{{}}0{{b64u:40}}"',
  "plaid-secret": 'PLAID_SECRET = "{{hex:30}}"',
  "privateai-api-key": 'PRIVATE_AI_API_KEY = "{{alnum:32}}"',
  "rapidapi-key": '"X-RapidAPI-Key": "{{hex:10}}msh{{hex:15}}p{{hex:6}}jsn{{hex:12}}",',
  "sendbird-api-token": 'SENDBIRD_API_TOKEN = "{{hex:40}}"',
  "sentry-legacy-token": 'SENTRY_AUTH_TOKEN = "{{hex:64}}"',
  "sidekiq-credentials": "BUNDLE_GEMS__CONTRIB{{}}SYS__COM={{hex:8}}:{{hex:8}}",
  "snyk-api-token": 'SNYK_TOKEN = "{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}"',
  "sonarqube-legacy-token": "sonar.login={{hex:40}}",
  "squarespace-api-key": 'SQUARESPACE_API_KEY = "{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}"',
  "sumologic-access-key": 'SUMO_ACCESS_KEY = "{{alnum:64}}"',
  "travis-ci-token": 'TRAVIS_API_TOKEN = "{{alnum:22}}"',
  "trello-api-token": 'TRELLO_TOKEN = "{{hex:64}}"',
  "twitch-api-token": 'TWITCH_CLIENT_SECRET = "{{lnum:30}}"',
  "twitter-api-secret": 'TWITTER_API_SECRET = "{{alnum:50}}"',
  "yandex-cloud-key": 'YANDEX_API_KEY = "AQ{{}}VN{{b64u:36}}"',
  "zendesk-api-token": 'ZENDESK_API_TOKEN = "{{alnum:40}}"',
  "discord-bot-token": "DISCORD_BOT_TOKEN=ODAzOTI3{{}}NDUxMjY4OTM0NzE1.{{b64u:6}}.{{b64u:38}}",
  "freemius-secret-key": "    'secret_key' => 's{{}}k_{{b64:29}}',",
  "gitlab-session-cookie": "Cookie: _gitlab_{{}}session={{hex:32}}",
  "adafruit-io-key": "ADAFRUIT_IO_KEY=a{{}}io_{{alnum:28}}",
  "airtable-api-key": "AIRTABLE_API_KEY=ke{{}}y{{alnum:14}}",
  "alibaba-access-key-secret": "ALIBABA_CLOUD_ACCESS_KEY_SECRET={{alnum:30}}",
  "algolia-api-key": "ALGOLIA_ADMIN_KEY={{hex:32}}",
  "asana-client-secret": "ASANA_CLIENT_SECRET={{hex:32}}",
  "atlassian-legacy-api-token": "JIRA_API_TOKEN={{alnum:24}}",
  "beamer-api-token": "BEAMER_API_KEY=b_{{b64u:44}}",
  "bitbucket-client-secret": "BITBUCKET_CLIENT_SECRET={{alnum:32}}",
  "bittrex-api-key": "BITTREX_API_KEY={{hex:32}}",
  "cisco-meraki-api-key": "MERAKI_DASHBOARD_API_KEY={{hex:40}}",
  "cloudflare-api-key": "CLOUDFLARE_API_KEY={{hex:37}}",
  "codecov-token": "CODECOV_TOKEN={{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}",
  "cohere-api-key": "COHERE_API_KEY={{alnum:40}}",
  "coinbase-access-token": "COINBASE_ACCESS_TOKEN={{b64u:64}}",
  "confluent-api-secret": "CONFLUENT_CLOUD_API_SECRET={{b64:64}}",
  "contentful-delivery-token": "CONTENTFUL_DELIVERY_TOKEN={{b64u:43}}",
  "datadog-api-key": "DD_API_KEY={{hex:32}}",
  "discord-client-secret": "DISCORD_CLIENT_SECRET={{b64u:32}}",
  "droneci-access-token": "DRONE_TOKEN={{alnum:32}}",
  "dropbox-token": "DROPBOX_ACCESS_TOKEN=sl.{{b64u:140}}",
  "etsy-api-key": "ETSY_API_KEY={{hex:24}}",
  "facebook-app-secret": "FACEBOOK_APP_SECRET={{hex:32}}",
  "fastly-api-token": "FASTLY_API_TOKEN={{b64u:32}}",
  "finicity-api-key": "FINICITY_APP_KEY={{hex:32}}",
  "finnhub-api-key": "FINNHUB_API_KEY={{hex:20}}",
  "flickr-api-key": "FLICKR_API_KEY={{hex:32}}",
  "freshbooks-access-token": "FRESHBOOKS_ACCESS_TOKEN={{hex:64}}",
  "gitter-access-token": "GITTER_TOKEN={{hex:40}}",
  "gocardless-access-token": "GOCARDLESS_ACCESS_TOKEN=live_{{b64u:40}}",
  "heroku-legacy-api-key": "HEROKU_API_KEY={{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}",
  "hubspot-api-key": "HUBSPOT_API_KEY={{HEX:8}}-{{HEX:4}}-{{HEX:4}}-{{HEX:4}}-{{HEX:12}}",
  "intercom-access-token": "INTERCOM_ACCESS_TOKEN=dG9r{{}}Oj{{b64u:53}}=",
  "jfrog-identity-token": "JFROG_IDENTITY_TOKEN={{alnum:64}}",
  "kraken-api-key": "KRAKEN_PRIVATE_KEY={{b64:86}}==",
  "kucoin-api-key": "KUCOIN_API_KEY={{hex:24}}",
};
