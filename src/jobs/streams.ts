import { close, constants, ftruncateSync, openSync, read, unlinkSync, writeSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { CLIENT_BUFFER_BYTES, type FollowEvent } from "./protocol.js";

/**
 * What the server streams to a client, at the client's own pace and with bounded memory
 * (docs/jobserver-protocol.md, "Follow events" and "Slow clients"). A client is cut only when
 * it takes nothing at all for `stallMs`; a client that reads, however slowly, gets everything.
 */

const readAsync = promisify(read);
const closeAsync = promisify(close);
const CHUNK = 64 * 1024;

/**
 * One follower of one run. Events go straight to the response while less than
 * CLIENT_BUFFER_BYTES wait in memory for the client; beyond that they are appended to a spool
 * file (in the server's private state directory, unlinked as soon as it is created) and fed to
 * the client from there as it reads. So a job that writes faster than its follower reads is never
 * slowed down, the follower is never dropped for being slow, and the server's memory stays
 * bounded. A follower that takes nothing for `stallMs` while output waits for it is cut: it gets
 * a last `cut` event (if it ever reads again) and the connection closes; the run goes on.
 */
export class FollowStream {
  readonly #res: ServerResponse;
  readonly #spoolDir: string;
  readonly #name: string;
  readonly #stallMs: number;
  readonly #cutEvent: (reason: string) => FollowEvent;
  /**
   * open: taking events; ending: the last event is queued behind a spooled backlog; ended and
   * cut: the response is ended and its last bytes are on their way; closed: the client is gone.
   */
  #phase: "open" | "ending" | "ended" | "cut" | "closed" = "open";
  #spool: { fd: number; written: number; read: number } | undefined;
  #reading = false;
  /** Writes handed to the response whose bytes have not reached the socket yet. */
  #unflushed = 0;
  #stall: NodeJS.Timeout | undefined;

  constructor(
    res: ServerResponse,
    options: {
      spoolDir: string;
      name: string;
      stallMs: number;
      cutEvent: (reason: string) => FollowEvent;
    },
  ) {
    this.#res = res;
    this.#spoolDir = options.spoolDir;
    this.#name = options.name;
    this.#stallMs = options.stallMs;
    this.#cutEvent = options.cutEvent;
    res.on("close", () => {
      this.#phase = "closed";
      clearTimeout(this.#stall);
      this.#releaseSpool();
    });
  }

  send(event: FollowEvent): void {
    if (this.#phase === "open") this.#queue(Buffer.from(`${JSON.stringify(event)}\n`));
  }

  /** Sends the last event, then ends the response once the client has taken everything. */
  finish(event: FollowEvent): void {
    if (this.#phase !== "open") return;
    this.#queue(Buffer.from(`${JSON.stringify(event)}\n`));
    if (this.#phase !== "open") return; // cut while queueing
    this.#phase = "ending";
    this.#maybeEnd();
  }

  /** Ends the stream with a `cut` event (cutEvent) instead of the last event. */
  cut(reason: string): void {
    this.#cut(reason);
  }

  #backlog(): number {
    return this.#spool === undefined ? 0 : this.#spool.written - this.#spool.read;
  }

  #queue(line: Buffer): void {
    if (this.#backlog() === 0 && !this.#reading && this.#res.writableLength < CLIENT_BUFFER_BYTES) {
      this.#write(line);
      return;
    }
    try {
      if (this.#spool === undefined) {
        const path = join(this.#spoolDir, `${this.#name}.spool`);
        const fd = openSync(
          path,
          constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        unlinkSync(path);
        this.#spool = { fd, written: 0, read: 0 };
      }
      let offset = 0;
      while (offset < line.length)
        offset += writeSync(this.#spool.fd, line, offset, line.length - offset, this.#spool.written + offset);
      this.#spool.written += line.length;
    } catch {
      // No room to keep the backlog: this follower cannot get everything, so it is cut now
      // rather than handed a stream with a hole in it.
      this.#cut("the server could not keep the output this client had not read yet");
      return;
    }
    this.#armStall();
  }

  #write(chunk: Buffer): void {
    this.#unflushed++;
    this.#armStall();
    this.#res.write(chunk, () => this.#flushed());
  }

  /** Ends the response with `last`; its bytes count like any write for the stall clock. */
  #end(last?: Buffer): void {
    this.#unflushed++;
    this.#armStall();
    if (last === undefined) this.#res.end(() => this.#flushed());
    else this.#res.end(last, () => this.#flushed());
  }

  #flushed(): void {
    this.#unflushed--;
    if (this.#phase === "closed") return;
    // The client took something: its stall clock starts again.
    clearTimeout(this.#stall);
    this.#stall = undefined;
    this.#armStall();
    this.#pump();
    this.#maybeEnd();
  }

  #armStall(): void {
    if (this.#stall !== undefined || this.#phase === "closed") return;
    if (this.#unflushed === 0 && this.#backlog() === 0) return;
    this.#stall = setTimeout(() => {
      this.#stall = undefined;
      if (this.#phase === "open" || this.#phase === "ending")
        this.#cut(`the client read nothing for ${this.#stallMs} ms`);
      else this.#res.destroy(); // not even the end was taken
    }, this.#stallMs);
    this.#stall.unref();
  }

  /** Feeds the client from the spool, one chunk at a time, as it makes room. */
  #pump(): void {
    const spool = this.#spool;
    if (spool === undefined || this.#reading || (this.#phase !== "open" && this.#phase !== "ending")) return;
    if (spool.read === spool.written) {
      if (spool.written > 0) {
        spool.read = spool.written = 0;
        try {
          ftruncateSync(spool.fd, 0);
        } catch {
          // the space is reused from the start either way
        }
      }
      return;
    }
    if (this.#res.writableLength >= CLIENT_BUFFER_BYTES) return;
    this.#reading = true;
    const length = Math.min(CHUNK, spool.written - spool.read);
    const buffer = Buffer.allocUnsafe(length);
    readAsync(spool.fd, buffer, 0, length, spool.read).then(
      ({ bytesRead: n }) => {
        if (this.#readDone(spool)) return;
        if (n === 0) {
          this.#cut("the server could not read back the output this client had not read yet");
          return;
        }
        spool.read += n;
        this.#write(buffer.subarray(0, n));
        this.#pump();
        this.#maybeEnd();
      },
      () => {
        if (!this.#readDone(spool))
          this.#cut("the server could not read back the output this client had not read yet");
      },
    );
  }

  /** A spool read returned; true if the spool was released meanwhile (then it is closed here). */
  #readDone(spool: { fd: number }): boolean {
    this.#reading = false;
    if (this.#spool === spool) return false;
    closeAsync(spool.fd).catch(() => undefined);
    return true;
  }

  #maybeEnd(): void {
    if (this.#phase !== "ending" || this.#reading || this.#backlog() > 0) return;
    this.#phase = "ended";
    this.#releaseSpool();
    this.#end();
  }

  #cut(reason: string): void {
    if (this.#phase !== "open" && this.#phase !== "ending") return;
    this.#phase = "cut";
    this.#releaseSpool();
    clearTimeout(this.#stall);
    this.#stall = undefined;
    // What is already handed to the response stays in front of the last event: a client that
    // reads again gets both; one that does not is closed after one more stall period.
    this.#end(Buffer.from(`${JSON.stringify(this.#cutEvent(reason))}\n`));
  }

  #releaseSpool(): void {
    const spool = this.#spool;
    if (spool === undefined) return;
    this.#spool = undefined;
    // A read under way closes it when it returns (the descriptor must not be reused under it).
    if (!this.#reading) closeAsync(spool.fd).catch(() => undefined);
  }
}

/** Waits until the response has room again; false if the client took nothing for `stallMs` or left. */
function roomFor(res: ServerResponse, stallMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const settle = (ok: boolean) => {
      clearTimeout(timer);
      res.off("drain", drained);
      res.off("close", gone);
      resolve(ok);
    };
    const drained = () => settle(true);
    const gone = () => settle(false);
    const timer = setTimeout(() => settle(false), stallMs);
    res.on("drain", drained);
    res.on("close", gone);
  });
}

/**
 * Sends `size` bytes of the open file `fd` as the response body (headers already written),
 * reading on the thread pool and never keeping more than a chunk past what the client has taken;
 * a client that takes nothing for `stallMs` is disconnected. Closes `fd`.
 */
export async function sendFile(
  res: ServerResponse,
  fd: number,
  size: number,
  stallMs: number,
): Promise<void> {
  let sent = 0;
  try {
    while (sent < size && !res.destroyed) {
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK, size - sent));
      const { bytesRead: n } = await readAsync(fd, buffer, 0, buffer.length, sent);
      if (n === 0) break; // the file became shorter than announced
      sent += n;
      if (!res.write(buffer.subarray(0, n)) && !(await roomFor(res, stallMs))) break;
    }
  } catch {
    // a read error: the response is cut short below
  } finally {
    await closeAsync(fd).catch(() => undefined);
  }
  if (sent === size) res.end();
  else res.destroy();
}
