import type { Readable, Writable } from "node:stream";
import { Secret, SecretError } from "../secret/index.js";
import { CREDENTIAL_SIZE_MAX } from "../systemd/index.js";

type Input = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** Drops one trailing "\n" or "\r\n": `echo KEY | keyhold set NAME` must store KEY, not KEY\n. */
function withoutFinalNewline(bytes: Buffer): Buffer {
  if (bytes.at(-1) !== 0x0a) return bytes;
  return bytes.subarray(0, bytes.at(-2) === 0x0d ? -2 : -1);
}

function finish(name: string, chunks: Buffer[], total: number, keepNewline: boolean): Secret {
  const all = Buffer.concat(chunks, total);
  for (const c of chunks) c.fill(0);
  const value = keepNewline ? all : withoutFinalNewline(all);
  try {
    if (value.length === 0)
      throw new SecretError("EMPTY_VALUE", `refusing to store an empty value for ${name}`);
    return Secret.fromBytes(value);
  } finally {
    all.fill(0);
  }
}

/** Reads a value from a pipe, refusing more than 1 MiB without buffering it all. */
async function readPipe(name: string, input: Input, keepNewline: boolean): Promise<Secret> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of input) {
    const b = chunk as Buffer;
    total += b.length;
    chunks.push(b);
    if (total > CREDENTIAL_SIZE_MAX) {
      for (const c of chunks) c.fill(0);
      input.destroy();
      throw new SecretError(
        "TOO_LARGE",
        `value for ${name} is larger than 1 MiB, the systemd credential limit`,
      );
    }
  }
  return finish(name, chunks, total, keepNewline);
}

/** Reads one line from a terminal without echoing it. */
function readHidden(name: string, input: Input, prompt: Writable, label: string): Promise<Secret> {
  return new Promise((resolve, reject) => {
    prompt.write(label);
    const chunks: Buffer[] = [];
    let total = 0;
    input.setRawMode?.(true);
    input.resume();
    const done = (err?: SecretError) => {
      input.off("data", onData);
      input.setRawMode?.(false);
      input.pause();
      prompt.write("\n");
      if (err) {
        for (const c of chunks) c.fill(0);
        reject(err);
      } else {
        try {
          resolve(finish(name, chunks, total, true));
        } catch (e) {
          reject(e);
        }
      }
    };
    const onData = (data: Buffer) => {
      for (let i = 0; i < data.length; i++) {
        const b = data[i] as number;
        if (b === 0x03) return done(new SecretError("USAGE", "cancelled"));
        if (b === 0x0d || b === 0x0a || b === 0x04) return done();
        if (b === 0x7f || b === 0x08) {
          // backspace: drop the last byte typed
          const last = chunks.at(-1);
          if (last && last.length > 0) {
            last[last.length - 1] = 0;
            chunks[chunks.length - 1] = last.subarray(0, -1);
            total--;
          }
          continue;
        }
        chunks.push(Buffer.from([b]));
        total++;
      }
      data.fill(0);
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
  const first = await readHidden(name, io.stdin, io.stderr, `Value for ${name}: `);
  const second = await readHidden(name, io.stdin, io.stderr, `Again, to confirm: `);
  const same = first.verify(second);
  second.dispose();
  if (!same) {
    first.dispose();
    throw new SecretError("USAGE", "the two values differ; nothing was stored");
  }
  return first;
}
