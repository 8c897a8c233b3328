// Bundles the web chat demo (src/app.ts with @caas/client's browser build) into dist/ with
// esbuild; the gateway serves dist/ at /demo when CAAS_DEMO=1. Part of `npm run build`.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
rmSync(here("dist"), { recursive: true, force: true });
mkdirSync(here("dist"), { recursive: true });
await build({
  entryPoints: [here("src/app.ts")],
  outfile: here("dist/app.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome110", "firefox110", "safari16"],
  minify: true,
  sourcemap: true,
  logLevel: "warning",
});
for (const f of ["index.html", "style.css"]) cpSync(here(f), here(`dist/${f}`));
