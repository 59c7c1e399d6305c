export {
  type AtomicWriteOptions,
  discardStaged,
  fsyncDirectory,
  fsyncAsync,
  fsyncDirectoryAsync,
  installStaged,
  installStagedAsync,
  type StagedFile,
  stageFileAtomic,
  temporaryNameFor,
  writeFileAtomic,
  writeFileAtomicAsync,
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
