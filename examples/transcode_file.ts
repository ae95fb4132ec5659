/**
 * A file transcoder: a base64 file in, its bytes out. The file is read straight into pool
 * memory (`openFile`), decoded by `base64Decoder()` into another channel's pool memory
 * (`pipeThrough`), and written to the output file straight from there (`createFile`): no
 * copy but the decoder's own. On a terminal a progress bar runs on stderr; otherwise one
 * plain line says what was done.
 *
 * Run:   `deno run -A examples/transcode_file.ts input.b64 output.bin` (or `bun examples/transcode_file.ts input.b64 output.bin`).
 * Check: `deno run -A examples/transcode_file.ts --self-test` (transcodes a temporary file of a
 *        few MiB, compares SHA-256 with the original bytes, prints "ok").
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { isatty } from "node:tty";
import { base64Decoder, MemoryPool, pipeThrough } from "../mod.ts";
import { adapter, parseArgs, runSelfTest } from "./_runtime.ts";

/**
 * Decodes the base64 file `input` into `output`.
 * @param input The base64 file (line breaks and spaces allowed).
 * @param output The file to write (created or truncated).
 * @param onProgress Called after each write with the bytes written so far and the expected total.
 * @returns How many bytes were written.
 * @throws {TypeError} When the input is not base64 (as a rejection; the output is left partial).
 */
async function transcode(
  input: string,
  output: string,
  onProgress: (written: number, expected: number) => void,
): Promise<number> {
  // Whitespace makes the estimate high by a few percent; the bar ends at 100% either way.
  const expected = Math.floor(statSync(input).size * 3 / 4);
  // 64 KiB blocks: the decoder's output segments match openFile's 64 KiB reads (its `readSize`).
  const pool = new MemoryPool({ blockSize: 64 * 1024 });
  const decoded = pipeThrough(adapter.openFile(input, { pool }), base64Decoder({ skipWhitespace: true }), { pool });
  const file = adapter.createFile(output, { pool });
  let written = 0;
  try {
    for (;;) {
      const { buffer, isCompleted } = await decoded.read();
      // The decoded views are copied into the file channel's pool memory (whose views go to
      // the OS), then one flush for the whole read: it waits while the disk lags.
      for (const view of buffer) {
        file.getMemory(view.length).set(view);
        file.advance(view.length);
      }
      written += buffer.length;
      decoded.advanceTo(buffer.length);
      await file.flush();
      onProgress(written, expected);
      if (isCompleted) break;
    }
    decoded.complete();
    file.complete();
  } catch (error) {
    decoded.complete(error);
    file.complete(error);
    await file.closed.catch(() => {});
    throw error;
  }
  await file.closed; // every byte on disk and the file closed
  return written;
}

/** A progress bar on a terminal (redrawn at most every 100 ms); nothing otherwise. */
function progressBar(tty: boolean): (written: number, expected: number) => void {
  let last = 0;
  return (written, expected) => {
    const now = performance.now();
    if (!tty || now - last < 100) return;
    last = now;
    const fraction = expected === 0 ? 1 : Math.min(1, written / expected);
    const width = 30;
    const filled = Math.round(fraction * width);
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    process.stderr.write(`\r[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${formatBytes(written)}`);
  };
}

function formatBytes(bytes: number): string {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

const args = parseArgs(0);

if (args.selfTest) {
  await runSelfTest(async () => {
    const dir = mkdtempSync(join(tmpdir(), "channels-transcode-"));
    try {
      const data = new Uint8Array(4 * 1024 * 1024 + 2);
      for (let at = 0; at < data.length; at += 65536) {
        crypto.getRandomValues(data.subarray(at, Math.min(data.length, at + 65536)));
      }
      const input = join(dir, "input.b64");
      const output = join(dir, "output.bin");
      writeFileSync(input, Buffer.from(data).toString("base64").replace(/.{76}/g, "$&\n") + "\n");
      const written = await transcode(input, output, () => {});
      assert.equal(written, data.length);
      const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
      assert.equal(sha256(readFileSync(output)), sha256(data));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
} else {
  const [input, output] = args.rest;
  if (input === undefined || output === undefined) {
    console.error("usage: transcode_file.ts INPUT.b64 OUTPUT");
    process.exit(2);
  }
  const tty = isatty(2);
  const started = performance.now();
  let written = 0;
  try {
    written = await transcode(input, output, progressBar(tty));
  } catch (error) {
    // What went wrong, in one line (a missing file, bad base64 with its offset), not a stack.
    if (tty) process.stderr.write("\r\x1b[K");
    const message = error instanceof Error ? error.message : String(error);
    console.error(`transcode_file: ${input} → ${output}: ${message.split("\n")[0]}`);
    process.exit(1);
  }
  const seconds = (performance.now() - started) / 1000;
  if (tty) process.stderr.write("\r\x1b[K");
  console.error(
    `${input} → ${output}: ${formatBytes(written)} in ${seconds.toFixed(2)} s (${
      (written / 1048576 / Math.max(seconds, 1e-6)).toFixed(0)
    } MiB/s)`,
  );
}
