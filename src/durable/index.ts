export { type AtomicWriteOptions, fsyncDirectory, temporaryNameFor, writeFileAtomic } from "./atomic.js";
export { acquireLock, type HeldLock, withLock } from "./lock.js";
