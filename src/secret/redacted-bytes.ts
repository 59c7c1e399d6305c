import { inspect } from "node:util";
import { SecretError } from "./errors.js";
import { wipe } from "./wipe.js";

const REDACTED = "[REDACTED]";

/**
 * What `Secret` and `SecretKey` share: a private buffer, one way in for the subclass (`live()`,
 * which refuses once disposed), `dispose()` that wipes it, and `[REDACTED]` from every way a
 * value is printed or serialised (`toString`, `toJSON`, template strings, `util.inspect`).
 */
export abstract class RedactedBytes {
  readonly #bytes: Buffer;
  readonly #what: string;
  #disposed = false;

  protected constructor(bytes: Buffer, what: string) {
    this.#bytes = bytes;
    this.#what = what;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** The live buffer; `DISPOSED` once `dispose()` ran. */
  protected live(): Buffer {
    if (this.#disposed) throw new SecretError("DISPOSED", `${this.#what} was disposed and can no longer be used`);
    return this.#bytes;
  }

  /** Overwrites the bytes with zeros. Idempotent. */
  dispose(): void {
    wipe(this.#bytes);
    this.#disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
