// Seeds of the scan-archive target (fuzz/targets/scan-archive.fuzz.mjs), written by make-corpus.mjs:
// a small zip (stored and deflated members, a directory), a ustar tar with a `../` name and a pax
// header, a tar.gz, a zip nested in a tar, and near misses. The first byte picks the format.
import { deflateRawSync, gzipSync } from "node:zlib";

function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const { name, data, stored } of entries) {
    const n = Buffer.from(name);
    const d = Buffer.from(data);
    const packed = stored ? d : deflateRawSync(d);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(stored ? 0 : 8, 8);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(d.length, 22);
    local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(stored ? 0 : 8, 10);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(d.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, packed);
    centrals.push(central, n);
    offset += 30 + n.length + packed.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

function tar(entries) {
  const blocks = [];
  for (const { name, data, type = "0" } of entries) {
    const d = Buffer.from(data);
    const h = Buffer.alloc(512);
    h.write(name, 0, 100);
    h.write(`${d.length.toString(8).padStart(11, "0")}\0`, 124, "latin1");
    h.write("        ", 148, "latin1");
    h.write(type, 156, "latin1");
    h.write("ustar\x0000", 257, "latin1");
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    blocks.push(h, d, Buffer.alloc((512 - (d.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const as = (kind, bytes) => Buffer.concat([Buffer.from([kind]), bytes]);
const env = "# settings\nAPI_TOKEN=not-a-key-just-text\n";

export function archiveSeeds() {
  const pax = "31 path=long/name/from/pax.env\n";
  const inner = zip([{ name: "inner.env", data: env, stored: true }]);
  return {
    zip: as(0, zip([{ name: "dir/", data: "", stored: true }, { name: "dir/app.env", data: env }, { name: "s.txt", data: "x\n", stored: true }])),
    "zip-truncated": as(0, zip([{ name: "a.env", data: env }]).subarray(0, 60)),
    tar: as(1, tar([{ name: "../up/app.env", data: env }, { name: "x", data: pax, type: "x" }, { name: "short", data: env }])),
    "tar-nested-zip": as(1, tar([{ name: "bundle.zip", data: inner }])),
    tgz: as(2, gzipSync(tar([{ name: "deploy/.env", data: env }]))),
    "tgz-garbage": as(2, Buffer.from("\x1f\x8b\x08\x00not gzip at all")),
  };
}
