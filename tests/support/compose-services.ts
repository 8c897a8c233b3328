import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./spawn-platform.js";

/** What docker-compose.yml gives one service once loaded the way `docker compose` loads it. */
export interface ComposeService {
  command: string[];
  environment: Record<string, string>;
}

/** A CAAS service of the compose file: its compose name, the service kind it runs, its definition. */
export interface ComposeCaasService extends ComposeService {
  name: string;
  kind: string;
  /** The compiled entry point the command runs (services/<kind>/dist/main.js). */
  main: string;
}

/**
 * Loads docker-compose.yml with compose-go (the loader `docker compose` itself uses: anchors,
 * merges, interpolation, normalization) through tests/validate/cmd/compose-env, with the values
 * of `envFile` (default .env.example) as the whole environment.
 */
export async function loadComposeServices(envFile = join(repoRoot, ".env.example")): Promise<Record<string, ComposeService>> {
  const { stdout } = await promisify(execFile)("go", ["run", "./cmd/compose-env", "-env-file", envFile], {
    cwd: join(repoRoot, "tests/validate"),
    maxBuffer: 16 * 1024 * 1024,
  });
  return (JSON.parse(stdout) as { services: Record<string, ComposeService> }).services;
}

/** The compose services that run a CAAS entry point (`node services/<kind>/dist/main.js`), by name. */
export function caasServices(all: Record<string, ComposeService>): ComposeCaasService[] {
  return Object.entries(all)
    .flatMap(([name, s]) => {
      const m = s.command.length === 2 && s.command[0] === "node" ? /^services\/([a-z]+)\/dist\/main\.js$/.exec(s.command[1]!) : null;
      return m ? [{ name, kind: m[1]!, main: s.command[1]!, ...s }] : [];
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
