import { randomBytes, randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { connectMongo } from "@caas/shared/mongo";
import { FakeClock } from "@caas/shared/clock";
import { toConnectError } from "@caas/shared/errors";
import { freshTenantScope, infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import type { ChatBackend } from "../src/chat-stores.js";
import { asPrincipal, openInstance, userPrincipal, type Instance } from "./support/harness.js";

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_chat_send_close`;
const USERS = ["u1", "u2", "u3", "u4"];
const UNLIMITED_SENDS = { sendRate: { capacity: 10_000, refillPerSec: 10_000 } };

/** How a call ended, observed at once: "ok", or the gRPC code of its error. */
function outcome(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "ok",
    (err: unknown) => Code[toConnectError(err).code],
  );
}

/**
 * ADR 0026: closing an instance's stores while sends are in flight through it must settle every
 * one of them, promptly (the MongoDB driver could leave one pending forever), and a refused send
 * is UNAVAILABLE, for the client to retry elsewhere. The close falls at a different point of a
 * burst in each round.
 */
describe.skipIf(!mongoUrl)("sends in flight through an instance whose stores close (FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });

  it("all settle within seconds of the close, refused ones UNAVAILABLE, acked ones in the log once", async () => {
    const secret = randomBytes(32);
    const clock = new FakeClock();
    const collectionPrefix = `t${randomUUID().replace(/-/g, "").slice(0, 10)}_`;
    let n = 0;
    const backend = (): ChatBackend => ({ kind: "mongo", url: mongoUrl!, database: dbName, appName: `close-${++n}`, collectionPrefix });
    const a = await openInstance(backend(), { clock, secret, limits: UNLIMITED_SENDS });
    let refused = 0;
    try {
      for (let round = 0; round < 6; round++) {
        const b = await openInstance(backend(), { clock, secret, limits: UNLIMITED_SENDS });
        const tenantId = freshTenantScope().tenantId;
        const client = (inst: Instance, user: string) => asPrincipal(inst.impl, userPrincipal(tenantId, user));
        const { conversation } = await client(a, "u1").createConversation({ type: ConversationType.GROUP, memberIds: USERS.slice(1) });
        const conversationId = conversation!.id;
        let acked = 0;
        let closing: Promise<void> | undefined;
        const calls = USERS.flatMap((user) =>
          Array.from({ length: 4 }, (_, i) => {
            const key = `${user}-${i}`;
            const call = client(b, user).sendMessage({ conversationId, clientMessageId: key, text: key });
            void call.then(
              () => {
                if (++acked === round * 2) closing = b.close();
              },
              () => undefined,
            );
            return { user, key, result: outcome(call) };
          }),
        );
        if (round === 0) closing = b.close(); // before any send has gone anywhere
        const results = await Promise.all(calls.map(async (c) => ({ ...c, result: await Promise.race([c.result, new Promise<string>((r) => setTimeout(() => r("pending"), 15_000))]) })));
        await (closing ?? b.close());
        expect(
          results.filter((r) => r.result === "pending").map((r) => r.key),
          `round ${round}`,
        ).toEqual([]);
        expect(
          results.filter((r) => r.result !== "ok" && r.result !== "Unavailable").map((r) => `${r.key}: ${r.result}`),
          `round ${round}`,
        ).toEqual([]);
        refused += results.filter((r) => r.result === "Unavailable").length;
        // The client retries the refused sends through A; every message is then in the log exactly once.
        for (const r of results) if (r.result !== "ok") await client(a, r.user).sendMessage({ conversationId, clientMessageId: r.key, text: r.key });
        const page = await client(a, "u2").sync({ conversationId, afterSeq: 0n, limit: 100 });
        const keys = page.events.flatMap((e) => (e.payload.case === "messageCreated" ? [e.payload.value.message!.clientMessageId] : []));
        expect(keys.sort(), `round ${round}`).toEqual(calls.map((c) => c.key).sort());
        expect(page.events.map((e) => Number(e.seq))).toEqual(page.events.map((_, i) => i + 1));
      }
      // The closes did catch sends (at the least those of round 0, closed before any store call).
      expect(refused).toBeGreaterThan(0);
    } finally {
      await a.close();
    }
  }, 120_000);
});
