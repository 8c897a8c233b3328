import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { tenantWithUsers } from "../support/tenants.js";

const platform = inject("embedded");

/*
 * Connect JSON: an enum name that names no value is refused as such (INVALID_ARGUMENT, a field
 * violation naming the value), not read as the zero value and then refused as a missing field;
 * unknown fields stay ignored.
 */
describe("enum names in JSON requests", () => {
  let token: string;
  beforeAll(async () => {
    const admin = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
    token = (await tenantWithUsers(platform.endpoints.auth!, admin, ["ann", "bob"], "enum-json")).token("ann");
  });

  const post = (at: string, body: unknown) =>
    fetch(`${platform.endpoints[at]}/caas.chat.v1.ChatService/CreateConversation`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

  it.each(["gateway", "chat"])("refuses an unknown enum name, naming it and the field (at the %s)", async (at) => {
    const res = await post(at, { type: "GROUPX", memberIds: ["bob"], title: "t" });
    expect(res.status).toBe(400);
    const err = (await res.json()) as { code: string; message: string; details?: { type: string }[] };
    expect(err.code).toBe("invalid_argument");
    expect(err.message).toContain('"GROUPX"');
    expect(err.message).toMatch(/^type: .*caas\.chat\.v1\.ConversationType/);
    expect(err.message).not.toContain("must not be in list");
    expect(err.details?.map((d) => d.type)).toEqual(["buf.validate.Violations"]);
  });

  it("accepts a known name and ignores an unknown field", async () => {
    const res = await post("gateway", { type: "CONVERSATION_TYPE_GROUP", memberIds: ["bob"], title: "t", aFieldFromTheFuture: 1 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { conversation: { type: string } }).conversation.type).toBe("CONVERSATION_TYPE_GROUP");
  });
});
