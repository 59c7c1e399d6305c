import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/**
 * Who gets a connection slot (docs/jobserver-protocol.md, "Connections"). Node's own
 * `maxConnections` closes every new connection once the slots are taken, and its header and
 * request timeouts start only at a request's first byte: connections that never send one would
 * hold every slot for as long as their owner likes. Here instead:
 *
 * - a connection that has not sent a whole request `firstRequestMs` after it was accepted is
 *   closed (Node's timeouts take over from its first request on);
 * - when the slots are full, a new connection takes the slot of the oldest one that is not being
 *   answered (still silent, still sending its request, or idle between two requests), which is
 *   closed; a flood of silent connections thus only ever pushes out its own kind;
 * - when every slot is being answered (follow streams, downloads), up to `reserve` more
 *   connections are accepted, and those serve `GET /v1/health` only.
 *
 * There is no cap per client: on the Unix socket the server cannot tell clients apart (Node.js
 * has no SO_PEERCRED, under the unit's PrivateUsers= every peer would be uid 65534 anyway, and
 * the X-Keyhold-User header is a claim anyone can forge).
 */

interface Slot {
  /** Requests whose response is not done yet (more than one when a client pipelines). */
  answering: number;
  /** Of those, the ones whose body is still arriving. */
  receiving: number;
  reserved: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** Silent, still sending its request, or idle between two requests. */
function evictable(slot: Slot): boolean {
  return slot.answering <= slot.receiving;
}

export interface SlotLimits {
  maxConnections: number;
  reserve: number;
  firstRequestMs: number;
}

export class ConnectionSlots {
  readonly #limits: SlotLimits;
  /** In accept order: the first evictable one is the oldest. */
  readonly #slots = new Map<Socket, Slot>();

  constructor(server: Server, limits: SlotLimits) {
    this.#limits = limits;
    server.on("connection", (socket: Socket) => this.#accept(socket));
  }

  get size(): number {
    return this.#slots.size;
  }

  #accept(socket: Socket): void {
    const slot: Slot = { answering: 0, receiving: 0, reserved: false, timer: undefined };
    this.#slots.set(socket, slot);
    socket.once("close", () => {
      clearTimeout(slot.timer);
      this.#slots.delete(socket);
    });
    slot.timer = setTimeout(() => socket.destroy(), this.#limits.firstRequestMs);
    slot.timer.unref();
    if (this.#slots.size <= this.#limits.maxConnections) return;
    for (const [other, taken] of this.#slots) {
      if (other === socket || !evictable(taken)) continue;
      this.#close(other);
      return;
    }
    if (this.#slots.size <= this.#limits.maxConnections + this.#limits.reserve) slot.reserved = true;
    else this.#close(socket);
  }

  #close(socket: Socket): void {
    const slot = this.#slots.get(socket);
    if (slot) clearTimeout(slot.timer);
    this.#slots.delete(socket);
    socket.destroy();
  }

  /**
   * A request arrived on its connection: the slot is being answered until the response is done.
   * Returns false when the connection holds a reserved slot and the request is not a health
   * check: the caller answers it with SERVER_BUSY and the connection closes.
   */
  request(req: IncomingMessage, res: ServerResponse, isHealth: boolean): boolean {
    const slot = this.#slots.get(req.socket);
    if (!slot) return true;
    clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.answering++;
    res.once("close", () => {
      slot.answering--;
    });
    if (!slot.reserved) return true;
    // A reserved slot serves one request, then frees itself.
    res.shouldKeepAlive = false;
    return isHealth;
  }

  /**
   * While a request's body is still arriving its slot may be taken like a silent one's; the
   * returned function marks the body received (call it once, however reading ended).
   */
  receiving(req: IncomingMessage): () => void {
    const slot = this.#slots.get(req.socket);
    if (!slot) return () => undefined;
    slot.receiving++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      slot.receiving--;
    };
  }
}
