// The internal text helpers several modules share (src/_text.ts), against the runtime's own.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { asciiString, utf8Length } from "../src/_text.ts";
import { testSeed, withSeed } from "./_util.ts";

describe("utf8Length()", () => {
  it("is TextEncoder's byte length on random strings, lone surrogates included", async () => {
    const encoder = new TextEncoder();
    const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0xd83d, 0xde00, 0xdbff, 0xdc00, 0xe9, 0x20ac];
    assert.equal(utf8Length(""), 0);
    assert.equal(utf8Length("\ud83d"), 3, "a lone high surrogate is U+FFFD");
    assert.equal(utf8Length("\ude00x"), 4, "a lone low surrogate is U+FFFD");
    assert.equal(utf8Length("\u{1F600}"), 4);
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 2000; round++) {
        let text = "";
        const n = random.int(0, 40);
        for (let i = 0; i < n; i++) text += String.fromCharCode(units[random.int(0, units.length - 1)] as number);
        assert.equal(utf8Length(text), encoder.encode(text).length, JSON.stringify(text));
      }
    });
  });
});

describe("asciiString()", () => {
  it("builds the string of ASCII bytes, and is undefined when one is not", () => {
    const bytes = new TextEncoder().encode("xxHost: a\u00e9");
    assert.equal(asciiString(bytes, 2, 9), "Host: a");
    assert.equal(asciiString(bytes, 0, 0), "");
    assert.equal(asciiString(bytes, 2, 10), undefined, "0xc3 is not ASCII");
    const all = Uint8Array.from({ length: 128 }, (_, i) => i);
    assert.equal(asciiString(all, 0, 128), String.fromCharCode(...all));
    assert.equal(asciiString(new Uint8Array([0x61, 0x80]), 0, 2), undefined);
  });
});
