// `npm run bundle`: one ESM file of mod.ts, dist/channels.bundle.js, with `deno bundle`.
//
// `deno bundle` runs esbuild, and on first use it downloads esbuild from the npm registry into
// its cache. To stay offline it runs here with a Deno cache inside node_modules/ seeded with the
// esbuild binary npm installed (the `esbuild` devDependency, pinned to the version this Deno
// asks for: ESBUILD_VERSION below). Nothing else in the graph is remote: mod.ts imports only
// relative files.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

// The esbuild Deno 2.9.6 uses (its cache folder is `dl/esbuild-<version>-1/`); keep it equal to
// the `esbuild` devDependency when upgrading Deno.
const ESBUILD_VERSION = "0.25.5";

const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(root + "package.json");
const denoDir = root + "node_modules/.cache/channels-deno";
const platform = `${process.platform}-${process.arch}`;
const cached = `${denoDir}/dl/esbuild-${ESBUILD_VERSION}-1/esbuild-${platform}`;

if (!existsSync(cached)) {
  const installed = require("esbuild/package.json").version;
  if (installed !== ESBUILD_VERSION) {
    throw new Error(
      `Cannot bundle offline as the esbuild devDependency is ${installed}: Deno needs ${ESBUILD_VERSION}`,
    );
  }
  const binary = process.platform === "win32" ? `@esbuild/${platform}/esbuild.exe` : `@esbuild/${platform}/bin/esbuild`;
  mkdirSync(`${denoDir}/dl/esbuild-${ESBUILD_VERSION}-1`, { recursive: true });
  copyFileSync(require.resolve(binary), cached);
}

execFileSync(
  root + "node_modules/.bin/deno",
  ["bundle", "--quiet", "--platform", "browser", "--output", "dist/channels.bundle.js", "mod.ts"],
  { cwd: root, stdio: "inherit", env: { ...process.env, DENO_DIR: denoDir } },
);

// A second esbuild in the cache means Deno wanted another version and fetched it from the network.
const versions = readdirSync(`${denoDir}/dl`).filter((name) => name.startsWith("esbuild-"));
if (versions.length !== 1) {
  const found = versions.join(", ");
  throw new Error(`Cannot bundle offline as Deno fetched another esbuild: received ${found}; update ESBUILD_VERSION`);
}
console.log("wrote dist/channels.bundle.js");
