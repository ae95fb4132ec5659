// Removes dist/ before a build so stale files (a renamed test, say) never run under Node.
import { rmSync } from "node:fs";
rmSync(new URL("../dist/", import.meta.url), { recursive: true, force: true });
