import { createConnection } from "node:net";
import { KeyholdError } from "../secret/errors.js";

/**
 * The client's side of HTTP/1.1 on the job server's socket (docs/jobserver-protocol.md): one
 * request per connection (`Connection: close`), its reply read by a small strict parser instead
 * of node:http: loading its modules and building its request were about a fifth of what
 * `keyhold trigger` did beyond Node's own start (counted with callgrind), for one request.
 * The peer is whatever listens on the socket path given, so everything it sends is bounded:
 * the head, each chunk-size line, the trailers; a reply that is not HTTP/1.1 as keyhold's server
 * writes it (CRLF lines, Content-Length or chunked, no interim responses) is SERVER_ERROR.
 */

/** The status line and headers together (Node's own default limit for a server's head). */
export const MAX_HEAD_BYTES = 16 * 1024;
/** A chunk-size line with its extensions. */
const MAX_CHUNK_LINE_BYTES = 256;
/** The trailer section after the last chunk. */
const MAX_TRAILER_BYTES = 16 * 1024;
const MAX_HEADERS = 100;

const STATUS_LINE = /^HTTP\/1\.[01] ([2-5][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const FIELD = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[\t ]*([\t\x20-\x7e\x80-\xff]*?)[\t ]*$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,8})[\t ]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;
const SAFE_VALUE = /^[\t\x20-\x7e]*$/;
const CRLF = Buffer.from("\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");

export function malformed(what: string): KeyholdError {
  return new KeyholdError("SERVER_ERROR", `the job server's reply is not valid HTTP/1.1: ${what}`);
}

export interface ResponseHead {
  status: number;
  /** Lower-case names; a repeated header's values joined with ", ". */
  headers: ReadonlyMap<string, string>;
}

/** What a parser hands on: the head once, the body's bytes as they come, then the end once. */
export interface ReplySink {
  head(head: ResponseHead): void;
  data(bytes: Buffer): void;
  end(): void;
}

type State =
  | { at: "head" }
  | { at: "length"; left: number }
  | { at: "size" }
  | { at: "chunk"; left: number }
  | { at: "chunk-end" }
  | { at: "trailers"; seen: number }
  | { at: "until-close" }
  | { at: "done" };

/**
 * An incremental parser of one response: `push` the bytes as they arrive (any split), `close`
 * when the connection ends. Throws SERVER_ERROR on anything malformed, oversized, or after the
 * end; only the head and the line being read are ever held, never the body.
 */
export class ResponseParser {
  readonly #sink: ReplySink;
  #state: State = { at: "head" };
  #held: Buffer = Buffer.alloc(0);

  constructor(sink: ReplySink) {
    this.#sink = sink;
  }

  get done(): boolean {
    return this.#state.at === "done";
  }

  push(bytes: Buffer): void {
    let rest = this.#held.length === 0 ? bytes : Buffer.concat([this.#held, bytes]);
    this.#held = Buffer.alloc(0);
    while (rest.length > 0) rest = this.#step(rest);
  }

  /** The connection ended: ends a body read until close; anything else unfinished is truncated. */
  close(): void {
    if (this.#state.at === "until-close") {
      this.#state = { at: "done" };
      this.#sink.end();
    } else if (this.#state.at !== "done") {
      throw malformed(
        this.#state.at === "head"
          ? "the connection closed before a whole head"
          : "the connection closed in the middle of the body",
      );
    }
  }

  /** Consumes what it can of `bytes`; returns the rest (held when it is an incomplete line). */
  #step(bytes: Buffer): Buffer {
    const state = this.#state;
    switch (state.at) {
      case "head": {
        const end = bytes.indexOf(HEAD_END);
        if ((end === -1 ? bytes.length : end + HEAD_END.length) > MAX_HEAD_BYTES)
          throw malformed(`the head is longer than ${MAX_HEAD_BYTES} bytes`);
        if (end === -1) return this.#hold(bytes);
        this.#head(bytes.subarray(0, end).toString("latin1"));
        return bytes.subarray(end + HEAD_END.length);
      }
      case "length":
      case "chunk": {
        const take = Math.min(state.left, bytes.length);
        state.left -= take;
        this.#sink.data(bytes.subarray(0, take));
        if (state.left === 0) {
          if (state.at === "length") this.#finish();
          else this.#state = { at: "chunk-end" };
        }
        return bytes.subarray(take);
      }
      case "chunk-end": {
        if (bytes.length < 2) {
          if (bytes[0] !== 0x0d) throw malformed("a chunk is longer than its size says");
          return this.#hold(bytes);
        }
        if (bytes[0] !== 0x0d || bytes[1] !== 0x0a) throw malformed("a chunk is longer than its size says");
        this.#state = { at: "size" };
        return bytes.subarray(2);
      }
      case "size": {
        const line = this.#line(bytes, MAX_CHUNK_LINE_BYTES, "a chunk-size line");
        if (line === undefined) return this.#hold(bytes);
        const m = CHUNK_SIZE.exec(line.text);
        if (m === null) throw malformed("a chunk size is not a hexadecimal number");
        const size = Number.parseInt(m[1] as string, 16);
        this.#state = size === 0 ? { at: "trailers", seen: 0 } : { at: "chunk", left: size };
        return bytes.subarray(line.next);
      }
      case "trailers": {
        const line = this.#line(bytes, MAX_TRAILER_BYTES - state.seen, "the trailer section");
        if (line === undefined) return this.#hold(bytes);
        state.seen += line.next;
        if (line.text === "") this.#finish();
        else if (!FIELD.test(line.text)) throw malformed("a trailer is not a header field");
        return bytes.subarray(line.next);
      }
      case "until-close":
        this.#sink.data(bytes);
        return Buffer.alloc(0);
      case "done":
        throw malformed("bytes follow the end of the reply");
    }
  }

  /** The CRLF-ended line at the start of `bytes`, or undefined while it is incomplete. */
  #line(bytes: Buffer, limit: number, what: string): { text: string; next: number } | undefined {
    const end = bytes.indexOf(CRLF);
    if (end === -1 ? bytes.length > limit : end + CRLF.length > limit)
      throw malformed(`${what} is longer than ${limit} bytes`);
    if (end === -1) return undefined;
    return { text: bytes.subarray(0, end).toString("latin1"), next: end + CRLF.length };
  }

  #hold(bytes: Buffer): Buffer {
    this.#held = Buffer.from(bytes);
    return Buffer.alloc(0);
  }

  #finish(): void {
    this.#state = { at: "done" };
    this.#sink.end();
  }

  #head(text: string): void {
    const [statusLine, ...fields] = text.split("\r\n");
    const status = STATUS_LINE.exec(statusLine as string);
    if (status === null) throw malformed("the status line is not HTTP/1.x with a final status");
    if (fields.length > MAX_HEADERS) throw malformed(`more than ${MAX_HEADERS} headers`);
    const headers = new Map<string, string>();
    for (const field of fields) {
      const m = FIELD.exec(field);
      if (m === null) throw malformed("a header is not a field (name: value)");
      const name = (m[1] as string).toLowerCase();
      const previous = headers.get(name);
      if (previous !== undefined && (name === "content-length" || name === "transfer-encoding"))
        throw malformed(`${name} is given twice`);
      headers.set(name, previous === undefined ? (m[2] as string) : `${previous}, ${m[2]}`);
    }
    const code = Number(status[1]);
    const encoding = headers.get("transfer-encoding");
    const length = headers.get("content-length");
    this.#sink.head({ status: code, headers });
    if (code === 204 || code === 304) {
      if (encoding !== undefined || (length !== undefined && length !== "0"))
        throw malformed(`a ${code} reply with a body`);
      this.#finish();
    } else if (encoding !== undefined) {
      if (encoding.toLowerCase() !== "chunked")
        throw malformed(`transfer coding ${JSON.stringify(encoding.slice(0, 40))}`);
      if (length !== undefined) throw malformed("both Content-Length and Transfer-Encoding");
      this.#state = { at: "size" };
    } else if (length !== undefined) {
      if (!/^[0-9]{1,15}$/.test(length)) throw malformed("Content-Length is not a number");
      this.#state = { at: "length", left: Number(length) };
      if (Number(length) === 0) this.#finish();
    } else this.#state = { at: "until-close" };
  }
}

export interface WireRequest {
  method: "GET" | "POST" | "DELETE";
  /** The request target: built by the caller from fixed text and encodeURIComponent. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Fails the exchange when the server sends nothing for this long. */
  timeoutMs?: number;
}

/** The exchange's end: `end` after the whole reply, or `fail` (never both, each at most once). */
export interface ExchangeSink extends ReplySink {
  fail(err: unknown): void;
}

/**
 * Sends one request on a connection of its own and feeds the reply to `sink`. A header whose
 * value could split the request (a control character) is left out. Connection errors reach
 * `fail` as the system error; a sink that throws ends the exchange with its error.
 */
export function exchange(socketPath: string, request: WireRequest, sink: ExchangeSink): void {
  let settled = false;
  const conn = createConnection(socketPath);
  const fail = (err: unknown) => {
    if (settled) return;
    settled = true;
    conn.destroy();
    sink.fail(err);
  };
  const parser = new ResponseParser({
    head: (head) => sink.head(head),
    data: (bytes) => sink.data(bytes),
    end: () => {
      settled = true;
      conn.destroy();
      sink.end();
    },
  });
  const lines = [`${request.method} ${request.path} HTTP/1.1`, "Host: localhost", "Connection: close"];
  for (const [name, value] of Object.entries(request.headers))
    if (SAFE_VALUE.test(value)) lines.push(`${name}: ${value}`);
  if (request.body !== undefined) lines.push(`Content-Length: ${request.body.length}`);
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  // write, not end: Node's server takes a client's half-close for a hang-up and drops the reply.
  conn.write(request.body === undefined ? head : Buffer.concat([head, request.body]));
  if (request.timeoutMs !== undefined)
    conn.setTimeout(request.timeoutMs, () =>
      fail(new KeyholdError("SERVER_UNREACHABLE", `the job server at ${socketPath} did not answer in time`)),
    );
  conn.on("data", (bytes: Buffer) => {
    received = true;
    if (settled) return;
    try {
      parser.push(bytes);
    } catch (err) {
      fail(err);
    }
  });
  conn.on("error", fail);
  let received = false;
  conn.on("close", () => {
    if (settled) return;
    // Closed without a byte of reply: what systemd does with the connections of a service that
    // failed to start. Reported as Node reports it ("socket hang up"), a connection error.
    if (!received) {
      fail(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
      return;
    }
    try {
      parser.close();
    } catch (err) {
      fail(err);
    }
  });
}
