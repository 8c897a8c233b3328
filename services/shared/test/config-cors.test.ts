import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

/** The problems loadConfig reports for `env` (empty when it accepts it). */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

describe("CAAS_CORS_ORIGINS", () => {
  it("is empty by default: no cross-origin browser is admitted", () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
  });

  it("reads exact origins in the form browsers send them, once each", () => {
    const c = loadConfig({ CAAS_CORS_ORIGINS: " https://App.Example.com , http://localhost:5173/, https://app.example.com:443,http://localhost:5173" });
    expect(c.corsOrigins).toEqual(["https://app.example.com", "http://localhost:5173"]);
  });

  it("refuses wildcards, other schemes, paths, queries and credentials, naming each entry", () => {
    expect(problemsOf({ CAAS_CORS_ORIGINS: "*" })).toEqual(['CAAS_CORS_ORIGINS has an entry "*" that is not an http(s) origin']);
    expect(problemsOf({ CAAS_CORS_ORIGINS: "ftp://files.example.com,https://ok.example.com" })).toEqual(['CAAS_CORS_ORIGINS has an entry "ftp://files.example.com" that is not an http(s) origin']);
    for (const bad of ["https://app.example.com/chat", "https://app.example.com?x=1", "https://u:p@app.example.com", "https://app.example.com#top"]) {
      expect(problemsOf({ CAAS_CORS_ORIGINS: bad })).toEqual([`CAAS_CORS_ORIGINS entry ${JSON.stringify(bad)} must be only scheme://host[:port] (no path, query or credentials)`]);
    }
  });
});
