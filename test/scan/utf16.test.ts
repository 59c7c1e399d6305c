import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Scanner } from "../../src/scan/index.js";
import { fromUtf16, guessUtf16 } from "../../src/scan/utf16.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

/*
 * UTF-16 text without a byte-order mark: the NUL in every other byte used to make it count as
 * binary, so a key in it passed unscanned. Keys are generated here.
 */

const random = new SeededRandom("keyhold-utf16");
const le = (text: string) => Buffer.from(text, "utf16le");
const be = (text: string) => Buffer.from(text, "utf16le").swap16();

function scan(path: string, bytes: Buffer) {
  const scanner = new Scanner();
  scanner.scan(path, bytes);
  return { findings: scanner.findings, stats: scanner.stats };
}

describe("UTF-16 without a byte-order mark", () => {
  it("a key in UTF-16LE or UTF-16BE text is found, on its line of the text", () => {
    const key = expandTemplate(KEY_TEMPLATES["github-token"]!, random);
    const text = `# settings\r\nLOG_LEVEL=debug\r\nGITHUB_TOKEN=${key}\r\n`;
    for (const [order, bytes] of [
      ["le", le(text)],
      ["be", be(text)],
    ] as const) {
      const { findings, stats } = scan(`settings-${order}.conf`, bytes);
      assert.equal(stats.skipped.binary ?? 0, 0, `${order}: not skipped as binary`);
      assert.deepEqual(
        findings.map((f) => `${f.rule} ${f.line}:${f.column}`),
        ["github-token 3:14"],
        order,
      );
    }
  });

  it("text with some characters beyond ASCII is still recognised", () => {
    const key = expandTemplate(KEY_TEMPLATES["stripe-secret-key"]!, random);
    const text = `// Paramètres de l'équipe\nconst clé = "${key}";\n`;
    assert.equal(guessUtf16(le(text)), "utf-16le");
    assert.deepEqual(
      scan("config.js", le(text)).findings.map((f) => f.rule),
      ["stripe-secret-key"],
    );
  });

  it("binary and UTF-8 are left as they are; too few units to tell count as binary", () => {
    const ascii = Buffer.from("API_TOKEN=value\n");
    assert.equal(guessUtf16(ascii), undefined);
    assert.equal(fromUtf16(ascii), ascii);
    // UTF-32: a NUL character in every other UTF-16 unit.
    const utf32 = Buffer.alloc(64);
    for (let i = 0; i < 16; i++) utf32.writeUInt32LE(0x41 + i, i * 4);
    assert.equal(guessUtf16(utf32), undefined);
    // A PNG-like header and 16-bit numbers: mostly not ASCII text.
    const numbers = Buffer.alloc(64);
    for (let i = 0; i < 32; i++) numbers.writeUInt16LE(i * 977, i * 2);
    assert.equal(guessUtf16(numbers), undefined);
    assert.equal(guessUtf16(Buffer.from("a\0b\0c\0")), undefined);
    assert.equal(scan("short.bin", Buffer.from("a\0b\0c\0")).stats.skipped.binary, 1);
  });
});
