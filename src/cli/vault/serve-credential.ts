import { answerVaultCredential } from "../../app/vault-answer.js";
import { checkPlugin, parseRef } from "../../vault/index.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeLine } from "../io.js";
import { COMMON, passphraseFrom, usageHint } from "./shared.js";

/*
 * `keyhold vault serve-credential`: run by SERVICE-vault@.service, which `keyhold unit --vault`
 * renders, to answer one credential request of SERVICE (src/app/vault-answer.ts).
 */

const SYNOPSIS = "vault serve-credential --for SERVICE --ref NS/NAME --peer INSTANCE";

export const serveCredentialCommand = defineCommand({
  name: "vault serve-credential",
  synopsis: SYNOPSIS,
  options: {
    ...COMMON,
    for: { type: "string", arg: "SERVICE", description: "the service whose request this answers (required)" },
    ref: { type: "string", arg: "NS/NAME", description: "the secret it asks for (required)" },
    peer: {
      type: "string",
      arg: "INSTANCE",
      description: "systemd's instance name for the connection (required)",
    },
  },
  async run({ values, positionals, io }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    if (values.for === undefined || values.ref === undefined || values.peer === undefined)
      throw usageError("--for SERVICE, --ref NS/NAME and --peer INSTANCE are required", usageHint(SYNOPSIS));
    const service = checkPlugin(values.for);
    const l = layoutFrom(values, io);
    const ref = parseRef(values.ref);
    await answerVaultCredential(l, { service, ref, peer: values.peer }, passphraseFrom(values, io));
    writeLine(io.stdout, `gave ${ref.ns}/${ref.name} to ${service}.service as ${ref.name}`);
    return EXIT_OK;
  },
});
