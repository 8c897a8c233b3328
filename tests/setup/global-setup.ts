import type { TestProject } from "vitest/node";
import { spawnEmbeddedPlatform, type PlatformInfo } from "../support/spawn-platform.js";

declare module "vitest" {
  export interface ProvidedContext {
    embedded: PlatformInfo;
  }
}

/**
 * One embedded platform per test run (DESIGN "Tests on 2 cores"): a real process on free ports.
 * Tests make a fresh tenant each; they never share state through fixed ids.
 */
export default async function setup(project: TestProject) {
  const embedded = await spawnEmbeddedPlatform();
  project.provide("embedded", embedded.info);
  return async () => {
    const code = await embedded.stop();
    if (code !== 0) throw new Error(`embedded platform exited with ${code} on SIGTERM (expected a clean 0)`);
  };
}
