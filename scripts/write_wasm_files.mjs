// Writes the kernels embedded in src/_wasm/kernels.generated.ts as plain files in dist/:
// codecs.wasm (the SIMD build) and codecs_scalar.wasm. The npm package exports them for hosts
// that refuse to compile WebAssembly from bytes (Cloudflare Workers: `import module from
// "@channels/channels/codecs.wasm"` then `setWasmModule(module)`). Run by `npm run build`.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const source = readFileSync(root + "src/_wasm/kernels.generated.ts", "utf8");

const files = [
  ["KERNELS_SIMD_WASM_B64", "dist/codecs.wasm"],
  ["KERNELS_SCALAR_WASM_B64", "dist/codecs_scalar.wasm"],
];

mkdirSync(root + "dist", { recursive: true });
for (const [name, target] of files) {
  const match = source.match(new RegExp(`export const ${name}: string =\\s*"([A-Za-z0-9+/=]+)"`));
  if (match === null) {
    throw new Error(`Cannot write ${target} as src/_wasm/kernels.generated.ts has no ${name}: run npm run build:wasm`);
  }
  const bytes = Buffer.from(match[1], "base64");
  if (!WebAssembly.validate(bytes)) {
    throw new Error(`Cannot write ${target} as the bytes of ${name} are not a valid WebAssembly module`);
  }
  writeFileSync(root + target, bytes);
  console.log(`wrote ${target} (${bytes.length} B)`);
}
