import type { Readable, Writable } from "node:stream";
import { withoutFinalNewline } from "../load/index.js";
import { Secret, SecretError, wipe, wipeAll } from "../secret/index.js";
import { assertCredentialValueSize, CREDENTIAL_VALUE_MAX } from "../systemd/index.js";

type Input = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

function finish(name: string, chunks: Buffer[], total: number, keepNewline: boolean): Secret {
  const all = Buffer.concat(chunks, total);
  wipeAll(chunks);
  const value = keepNewline ? all : withoutFinalNewline(all);
  try {
    assertCredentialValueSize(name, value.length);
    return Secret.fromBytes(value);
  } finally {
    wipe(all);
  }
}

/** Reads a value from a pipe, refusing one over CREDENTIAL_VALUE_MAX without buffering it all. */
async function readPipe(name: string, input: Input, keepNewline: boolean): Promise<Secret> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of input) {
    const b = chunk as Buffer;
    total += b.length;
    chunks.push(b);
    // Room for a final "\r\n" that is not part of the value; finish() checks the exact length.
    if (total > CREDENTIAL_VALUE_MAX + 2) {
      wipeAll(chunks);
      input.destroy();
      throw new SecretError(
        "TOO_LARGE",
        `value for ${name} is larger than ${CREDENTIAL_VALUE_MAX} bytes, the most a credential value may be`,
        { hint: "its ciphertext must fit the 1 MiB that systemd loads" },
      );
    }
  }
  return finish(name, chunks, total, keepNewline);
}

/**
 * Reads lines from a terminal without echo: raw mode is switched on before the first prompt is
 * written and stays on until the last line is read, so nothing typed or pasted the moment a
 * prompt appears is ever echoed. Each line is kept in one buffer that backspace shortens.
 */
function readHidden(
  name: string,
  input: Input,
  prompt: Writable,
  labels: readonly string[],
): Promise<Secret[]> {
  return new Promise((resolve, reject) => {
    const lines: Secret[] = [];
    let line = Buffer.alloc(256);
    let length = 0;
    input.setRawMode?.(true);
    input.resume();
    prompt.write(labels[0] ?? "");
    const wipeLine = () => wipe(line);
    const done = (err?: SecretError) => {
      input.off("data", onData);
      input.setRawMode?.(false);
      input.pause();
      wipeLine();
      if (err) {
        prompt.write("\n");
        for (const l of lines) l.dispose();
        reject(err);
      } else resolve(lines);
    };
    const endLine = (): boolean => {
      prompt.write("\n");
      try {
        assertCredentialValueSize(name, length);
      } catch (err) {
        done(err as SecretError);
        return false;
      }
      lines.push(Secret.fromBytes(line.subarray(0, length)));
      wipeLine();
      length = 0;
      if (lines.length === labels.length) {
        done();
        return false;
      }
      prompt.write(labels[lines.length] ?? "");
      return true;
    };
    const onData = (data: Buffer) => {
      try {
        for (const b of data) {
          if (b === 0x03) return done(new SecretError("USAGE", "cancelled"));
          if (b === 0x0d || b === 0x0a || b === 0x04) {
            if (!endLine()) return;
            continue;
          }
          if (b === 0x7f || b === 0x08) {
            if (length > 0) line[--length] = 0;
            continue;
          }
          if (length === line.length) {
            const bigger = Buffer.alloc(line.length * 2);
            line.copy(bigger);
            wipeLine();
            line = bigger;
          }
          line[length++] = b;
        }
      } finally {
        wipe(data);
      }
    };
    input.on("data", onData);
  });
}

/**
 * The value for `set`/`rotate`: a no-echo prompt on a terminal (asked twice), stdin otherwise.
 */
export async function readValue(
  name: string,
  io: { stdin: Input; stderr: Writable },
  options: { keepNewline?: boolean } = {},
): Promise<Secret> {
  if (!io.stdin.isTTY) return readPipe(name, io.stdin, options.keepNewline ?? false);
  const [first, second] = await readHidden(name, io.stdin, io.stderr, [
    `Value for ${name}: `,
    "Again, to confirm: ",
  ]);
  if (first === undefined || second === undefined) throw new SecretError("USAGE", "cancelled");
  const same = first.verify(second);
  second.dispose();
  if (!same) {
    first.dispose();
    throw new SecretError("USAGE", "the two values differ; nothing was stored");
  }
  return first;
}
