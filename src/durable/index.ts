export { type AtomicWriteOptions, fsyncDirectory, temporaryNameFor, writeFileAtomic } from "./atomic.js";
export { acquireLock, type HeldLock, processAlive, withLock } from "./lock.js";
