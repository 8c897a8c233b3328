import { expect, inject, it } from "vitest";

const platform = inject("embedded");

it("serves no demo unless CAAS_DEMO=1 (the shared test platform runs without it)", async () => {
  const gateway = platform.endpoints.gateway!;
  expect((await fetch(`${gateway}/demo/`)).status).toBe(404);
  expect((await fetch(`${gateway}/demo/api/session`, { method: "POST", body: JSON.stringify({ userId: "alice" }) })).status).toBe(404);
});
