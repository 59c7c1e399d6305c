import { gunzipSync, inflateRawSync } from "node:zlib";

/*
 * Reads the members of the archives a scan meets (.zip, .tar, .tar.gz, .tgz) so their content is
 * scanned like files. Archives come with the tree or history being scanned: hostile input. Nothing
 * is ever written to disk (a member's name is only a label, `../` and all), every offset and size
 * is checked against the bytes at hand, decompression is bounded by `maxOutputLength` (a zip bomb
 * stops at the byte budget), and every limit that stops a read is reported, never passed over.
 */

export type ArchiveKind = "zip" | "tar" | "tgz";

/** Why an archive, or part of one, was not read. Each is counted in the scan's summary. */
export type ArchiveSkip =
  | "archive-depth"
  | "archive-bytes"
  | "archive-members"
  | "archive-corrupt"
  | "archive-unsupported";

export const ARCHIVE_SKIPS: readonly ArchiveSkip[] = [
  "archive-depth",
  "archive-bytes",
  "archive-members",
  "archive-corrupt",
  "archive-unsupported",
];

/** How deep archives inside archives are opened: the archive in the tree is depth 1. */
export const MAX_ARCHIVE_DEPTH = 3;
/** Members read from one archive in the tree, those of archives inside it included. */
export const MAX_ARCHIVE_MEMBERS = 10_000;

/**
 * What one archive in the tree (with every archive inside it) may still cost: `bytes` of member
 * content extracted (the scan's --max-size) and `members` read. Shared by the nested archives.
 */
export interface ArchiveBudget {
  bytes: number;
  members: number;
}

export function archiveBudget(maxBytes: number): ArchiveBudget {
  return { bytes: maxBytes, members: MAX_ARCHIVE_MEMBERS };
}

export interface ArchiveMember {
  /** The member's name as the archive stores it: a label, never a path to open. */
  name: Buffer;
  data: Buffer;
}

/** A limit met while reading; `fatal` ones end the archive (the rest of it is not read). */
export interface ArchiveProblem {
  skip: ArchiveSkip;
  why: string;
  fatal: boolean;
}

const KINDS: readonly [RegExp, ArchiveKind][] = [
  [/\.zip$/i, "zip"],
  [/\.tar$/i, "tar"],
  [/\.(?:tar\.gz|tgz)$/i, "tgz"],
];

/** The archive kind a name says, if it names one keyhold opens. */
export function archiveKind(name: string): ArchiveKind | undefined {
  return KINDS.find(([re]) => re.test(name))?.[1];
}

/** Every member with content (directories, links and devices have none), or a problem, in order. */
export function* archiveMembers(
  kind: ArchiveKind,
  bytes: Buffer,
  budget: ArchiveBudget,
): Generator<ArchiveMember | ArchiveProblem> {
  if (kind === "zip") {
    yield* zipMembers(bytes, budget);
    return;
  }
  let tar = bytes;
  if (kind === "tgz") {
    const out = inflate(() => gunzipSync(bytes, { maxOutputLength: Math.max(1, budget.bytes) }), budget.bytes);
    if (!Buffer.isBuffer(out)) {
      yield out;
      return;
    }
    tar = out;
  }
  yield* tarMembers(tar, budget);
}

function problem(skip: ArchiveSkip, why: string, fatal = true): ArchiveProblem {
  return { skip, why, fatal };
}

/** Runs a bounded decompression: the output, or why there is none. */
function inflate(run: () => Buffer, limit: number): Buffer | ArchiveProblem {
  if (limit <= 0) return problem("archive-bytes", "the byte budget is spent");
  try {
    return run();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
      return problem("archive-bytes", `decompresses to more than ${limit} bytes (a zip bomb?)`);
    return problem("archive-corrupt", `cannot decompress it (${(err as NodeJS.ErrnoException).code ?? "bad data"})`);
  }
}

/** Charges a member to the budget; the problem when it does not fit. */
function charge(budget: ArchiveBudget, size: number): ArchiveProblem | undefined {
  if (budget.members <= 0) return problem("archive-members", `holds more than ${MAX_ARCHIVE_MEMBERS} members`);
  if (size > budget.bytes) return problem("archive-bytes", `its members hold more than the byte budget (${budget.bytes} bytes left)`);
  budget.members--;
  budget.bytes -= size;
  return undefined;
}

// --- zip: the central directory is the index; each entry's local header says where its data is.

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function findEndOfCentralDirectory(bytes: Buffer): number {
  // The record is 22 bytes plus a comment of at most 65535.
  const lowest = Math.max(0, bytes.length - 22 - 0xffff);
  for (let at = bytes.length - 22; at >= lowest; at--) if (bytes.readUInt32LE(at) === EOCD) return at;
  return -1;
}

function* zipMembers(bytes: Buffer, budget: ArchiveBudget): Generator<ArchiveMember | ArchiveProblem> {
  const end = findEndOfCentralDirectory(bytes);
  if (end < 0) {
    yield problem("archive-corrupt", "no zip end-of-central-directory record");
    return;
  }
  const count = bytes.readUInt16LE(end + 10);
  const size = bytes.readUInt32LE(end + 12);
  const offset = bytes.readUInt32LE(end + 16);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    yield problem("archive-unsupported", "a zip64 archive");
    return;
  }
  if (offset + size > end) {
    yield problem("archive-corrupt", "the central directory lies outside the file");
    return;
  }
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > offset + size || bytes.readUInt32LE(at) !== CENTRAL) {
      yield problem("archive-corrupt", "a central directory entry is malformed");
      return;
    }
    const flags = bytes.readUInt16LE(at + 8);
    const method = bytes.readUInt16LE(at + 10);
    const packed = bytes.readUInt32LE(at + 20);
    const unpacked = bytes.readUInt32LE(at + 24);
    const nameLength = bytes.readUInt16LE(at + 28);
    const entryEnd = at + 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
    const local = bytes.readUInt32LE(at + 42);
    if (entryEnd > offset + size) {
      yield problem("archive-corrupt", "a central directory entry is malformed");
      return;
    }
    const name = Buffer.from(bytes.subarray(at + 46, at + 46 + nameLength));
    at = entryEnd;
    if (name[name.length - 1] === 0x2f && unpacked === 0) continue; // a directory
    if (packed === 0xffffffff || unpacked === 0xffffffff || local === 0xffffffff) {
      yield problem("archive-unsupported", "a zip64 member", false);
      continue;
    }
    if (flags & 1) {
      yield problem("archive-unsupported", "an encrypted member", false);
      continue;
    }
    if (method !== 0 && method !== 8) {
      yield problem("archive-unsupported", `a member compressed with method ${method}`, false);
      continue;
    }
    if (local + 30 > bytes.length || bytes.readUInt32LE(local) !== LOCAL) {
      yield problem("archive-corrupt", "a member's local header is missing");
      return;
    }
    const start = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    if (start + packed > bytes.length) {
      yield problem("archive-corrupt", "a member's data lies outside the file");
      return;
    }
    // Charged at the size the entry declares, and never inflated past it: a member that lies
    // about its size stops there, one that tells the truth stops at the budget.
    const over = charge(budget, unpacked);
    if (over !== undefined) {
      yield over;
      return;
    }
    const packedData = bytes.subarray(start, start + packed);
    const data =
      method === 0
        ? packedData
        : inflate(() => inflateRawSync(packedData, { maxOutputLength: Math.max(1, unpacked) }), Math.max(1, unpacked));
    if (!Buffer.isBuffer(data)) {
      yield data;
      return;
    }
    if (data.length !== unpacked) {
      yield problem("archive-corrupt", "a member's size differs from the one its entry declares");
      return;
    }
    yield { name, data };
  }
}

// --- tar: 512-byte headers (ustar, with pax and GNU long names) each followed by its data.

const BLOCK = 512;

function field(header: Buffer, at: number, length: number): Buffer {
  const raw = header.subarray(at, at + length);
  const nul = raw.indexOf(0);
  return Buffer.from(nul < 0 ? raw : raw.subarray(0, nul));
}

/** A numeric field: octal text, or GNU's base-256 (high bit set); NaN when it is neither. */
function number(header: Buffer, at: number, length: number): number {
  if (header[at]! & 0x80) {
    let n = header[at]! & 0x7f;
    for (let i = 1; i < length; i++) n = n * 256 + header[at + i]!;
    return Number.isSafeInteger(n) ? n : Number.NaN;
  }
  const text = field(header, at, length).toString("latin1").trim();
  return /^[0-7]*$/.test(text) ? (text === "" ? 0 : Number.parseInt(text, 8)) : Number.NaN;
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === number(header, 148, 8);
}

/** The records of a pax extended header (`<length> <key>=<value>\n`) as bytes. */
function paxRecords(data: Buffer): Map<string, Buffer> | undefined {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = space < 0 ? Number.NaN : Number(data.subarray(at, space).toString("latin1"));
    if (!Number.isSafeInteger(length) || length <= space - at || at + length > data.length) return undefined;
    const record = data.subarray(space + 1, at + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) return undefined;
    records.set(record.subarray(0, eq).toString("latin1"), Buffer.from(record.subarray(eq + 1)));
    at += length;
  }
  return records;
}

function* tarMembers(bytes: Buffer, budget: ArchiveBudget): Generator<ArchiveMember | ArchiveProblem> {
  let at = 0;
  let longName: Buffer | undefined;
  let pax: Map<string, Buffer> | undefined;
  while (at + BLOCK <= bytes.length) {
    const header = bytes.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) return; // the end-of-archive blocks
    if (!checksumOk(header)) {
      yield problem("archive-corrupt", "a tar header's checksum is wrong");
      return;
    }
    const type = String.fromCharCode(header[156]!);
    const paxSize = pax?.get("size");
    const size = paxSize === undefined ? number(header, 124, 12) : Number(paxSize.toString("latin1"));
    const start = at + BLOCK;
    if (!Number.isSafeInteger(size) || size < 0 || start + size > bytes.length) {
      yield problem("archive-corrupt", "a tar member's data lies outside the file");
      return;
    }
    const data = bytes.subarray(start, start + size);
    at = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x" || type === "L") {
      if (size > 1024 * 1024) {
        yield problem("archive-unsupported", "a tar extended header over 1 MiB");
        return;
      }
      if (type === "L") longName = field(data, 0, data.length);
      else {
        pax = paxRecords(data);
        if (pax === undefined) {
          yield problem("archive-corrupt", "a pax extended header is malformed");
          return;
        }
      }
      continue;
    }
    if (type === "g" || type === "K") continue; // global pax defaults; a GNU long link name
    let name = pax?.get("path") ?? longName;
    if (name === undefined) {
      const prefix = field(header, 345, 155);
      const base = field(header, 0, 100);
      name = prefix.length > 0 && header.subarray(257, 262).toString("latin1") === "ustar"
        ? Buffer.concat([prefix, Buffer.from("/"), base])
        : base;
    }
    longName = undefined;
    pax = undefined;
    if (type !== "0" && type !== "\0" && type !== "7") continue; // directories, links, devices
    const over = charge(budget, size);
    if (over !== undefined) {
      yield over;
      return;
    }
    yield { name, data };
  }
  if (at < bytes.length) yield problem("archive-corrupt", "the tar archive ends inside a header");
}
