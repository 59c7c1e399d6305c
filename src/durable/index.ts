export {
  type AtomicWriteOptions,
  discardStaged,
  fsyncDirectory,
  installStaged,
  type StagedFile,
  stageFileAtomic,
  temporaryNameFor,
  writeFileAtomic,
} from "./atomic.js";
export { crashPoint } from "./crash-point.js";
export {
  acquireLock,
  type HeldLock,
  parseProcessTag,
  processAlive,
  processStartTime,
  processTag,
  withLock,
} from "./lock.js";
