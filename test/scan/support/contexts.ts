/*
 * The languages and formats a key is committed in, each as a file name and a way to write a
 * value into it. Shared by the generic rule's tests (test/scan/generic-contexts.test.ts) and the
 * recall benchmark (bench/scan-recall.ts), so both measure the same syntax.
 */

export interface LanguageContext {
  id: string;
  /** The file the text is scanned as (some formats are known by name: `.netrc`, `.npmrc`). */
  path: string;
  render: (value: string) => string;
  /** False for a format that holds values only, never a reference to one (`.git-credentials`). */
  references?: false;
}

const b64 = (v: string) => Buffer.from(v).toString("base64");
const json = (v: string) => JSON.stringify(v);

export const LANGUAGE_CONTEXTS: readonly LanguageContext[] = [
  { id: "go-var", path: "main.go", render: (v) => `var githubToken string = "${v}"` },
  { id: "go-short", path: "main.go", render: (v) => `\tapiKey := "${v}"` },
  { id: "php-var", path: "config.php", render: (v) => `$xToken = "${v}";` },
  { id: "php-concat", path: "config.php", render: (v) => `$apiKey .= '${v}';` },
  { id: "php-array", path: "config.php", render: (v) => `    'api_key' => '${v}',` },
  { id: "java-properties", path: "application.properties", render: (v) => `service.api.token=${v}` },
  { id: "java-setproperty", path: "Main.java", render: (v) => `System.setProperty("X_TOKEN", "${v}");` },
  { id: "java-field", path: "Main.java", render: (v) => `private static final String API_KEY = "${v}";` },
  { id: "kotlin", path: "Config.kt", render: (v) => `const val API_TOKEN: String = "${v}"` },
  { id: "csharp", path: "Settings.cs", render: (v) => `private const string ApiKey = @"${v}";` },
  { id: "ruby-hash", path: "config.rb", render: (v) => `  :api_key => "${v}",` },
  { id: "ruby-symbol", path: "config.rb", render: (v) => `  client_secret: '${v}',` },
  { id: "python", path: "settings.py", render: (v) => `SECRET_KEY = "${v}"` },
  { id: "python-annotated", path: "client.py", render: (v) => `api_key: str = "${v}"` },
  { id: "python-kwarg", path: "client.py", render: (v) => `client = Client(api_key="${v}")` },
  { id: "python-environ", path: "client.py", render: (v) => `os.environ["SERVICE_TOKEN"] = "${v}"` },
  { id: "javascript", path: "config.js", render: (v) => `const apiKey = "${v}";` },
  { id: "json", path: "config.json", render: (v) => `{\n  "clientSecret": ${json(v)}\n}` },
  { id: "shell-export", path: "deploy.sh", render: (v) => `export SERVICE_TOKEN=${v}` },
  { id: "shell-quoted", path: "deploy.sh", render: (v) => `SERVICE_TOKEN='${v}'` },
  {
    id: "curl-header",
    path: "deploy.sh",
    render: (v) => `curl -H "Authorization: Bearer ${v}" https://api.example.com/`,
  },
  { id: "makefile-?=", path: "Makefile", render: (v) => `API_TOKEN ?= ${v}` },
  { id: "makefile-::=", path: "Makefile", render: (v) => `API_TOKEN ::= ${v}` },
  { id: "makefile-:::=", path: "Makefile", render: (v) => `API_TOKEN :::= ${v}` },
  { id: "makefile-:=", path: "Makefile", render: (v) => `API_TOKEN := ${v}` },
  { id: "makefile-+=", path: "Makefile", render: (v) => `API_TOKEN += ${v}` },
  { id: "terraform", path: "main.tf", render: (v) => `provider "svc" {\n  token = "${v}"\n}` },
  {
    id: "terraform-variable",
    path: "variables.tf",
    render: (v) => `variable "api_token" {\n  type    = string\n  default = "${v}"\n}`,
  },
  { id: "toml", path: "config.toml", render: (v) => `[service]\napi_key = "${v}"` },
  { id: "ini", path: "settings.ini", render: (v) => `[database]\npassword = ${v}` },
  { id: "xml-attribute", path: "app.xml", render: (v) => `<service apiToken="${v}" />` },
  { id: "xml-element", path: "app.xml", render: (v) => `<config><apiKey>${v}</apiKey></config>` },
  { id: "xml-element-own-line", path: "app.xml", render: (v) => `<password>\n    ${v}\n</password>` },
  { id: "xml-appsettings", path: "app.config", render: (v) => `<add key="ApiKey" value="${v}" />` },
  { id: "xml-entry", path: "app.xml", render: (v) => `<entry key="client.secret">${v}</entry>` },
  { id: "yaml", path: "values.yaml", render: (v) => `service:\n  api_key: ${v}` },
  { id: "yaml-quoted", path: "values.yaml", render: (v) => `service:\n  token: "${v}"` },
  { id: "yaml-block", path: "values.yaml", render: (v) => `service:\n  token: |\n    ${v}\n` },
  { id: "dockerfile-env", path: "Dockerfile", render: (v) => `FROM debian\nENV API_TOKEN=${v}` },
  { id: "dockerfile-env-legacy", path: "Dockerfile", render: (v) => `FROM debian\nENV SERVICE_SECRET ${v}` },
  { id: "dockerfile-arg", path: "Dockerfile", render: (v) => `ARG NPM_TOKEN=${v}` },
  {
    id: "kubernetes-secret-data",
    path: "secret.yaml",
    render: (v) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ndata:\n  api-token: ${b64(v)}\n`,
  },
  {
    id: "kubernetes-secret-stringdata",
    path: "secret.yaml",
    render: (v) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n  db-pass: ${v}\n`,
  },
  { id: "npmrc", path: ".npmrc", render: (v) => `//registry.example.com/:_authToken=${v}` },
  {
    id: "pypirc",
    path: ".pypirc",
    render: (v) => `[private]\nrepository = https://pypi.example.com/\nusername = deploy\npassword = ${v}`,
  },
  {
    id: "netrc",
    path: ".netrc",
    render: (v) => `machine api.example.com\n  login deploy\n  password ${v}\n`,
  },
  {
    id: "git-credentials",
    path: ".git-credentials",
    render: (v) => `https://deploy:${encodeURIComponent(v)}@git.example.com`,
    references: false,
  },
  {
    id: "jupyter",
    path: "analysis.ipynb",
    render: (v) =>
      JSON.stringify(
        {
          cells: [
            {
              cell_type: "code",
              source: ["import os\n", `api_key = "${v}"\n`, "client = connect(api_key)\n"],
            },
          ],
        },
        null,
        1,
      ),
  },
];

/** Ways code refers to a secret kept elsewhere: never a finding, in any context. */
export const REFERENCES: readonly string[] = [
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell reference, not a template
  "${SERVICE_TOKEN_V2}",
  "$SERVICE_TOKEN_V2",
  "process.env.SERVICE_TOKEN_V2",
  'os.environ["SERVICE_TOKEN_V2"]',
  'os.getenv("SERVICE_TOKEN_V2")',
  "{{ .Values.service.token2 }}",
  "%(service_token_2)s",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression
  "${{ secrets.SERVICE_TOKEN_V2 }}",
  "var.service_token_v2",
  'System.getenv("SERVICE_TOKEN_V2")',
  'ENV.fetch("SERVICE_TOKEN_V2")',
  "import.meta.env.VITE_TOKEN_V2",
];
