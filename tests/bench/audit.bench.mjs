// Audit log append and verify throughput on the embedded store (SQLite), through the compiled
// compliance package: appends N records to one tenant through the appender (read head, chain,
// insert; a checkpoint every 100), then verifies the whole chain with VerifyAuditLog's code path.
// With `pseudonymise`, user ids (the actor and the user_id detail, 1,000 distinct users) are
// written as keyed pseudonyms: one link lookup per record (a link insert per new user).
// With `mongo` as the third argument the store is MongoDB (CAAS_MONGO_URL; FerretDB here) in a
// database of its own that is dropped afterwards.
// With a batch size as the fourth argument, records are appended in runs of that many through
// appendBatch (as the recorder appends a bus batch); 1 (the default) appends them one by one.
// `appendPerSecondByTenth` is the append rate over each tenth of the run: flat when the cost of an
// append does not grow with the chain.
// Usage: npm run build && node tests/bench/audit.bench.mjs [records=100000] [pseudonymise|plain] [sqlite|mongo] [batch=1]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@caas/shared/logger";
import { FakeClock } from "@caas/shared/clock";
import { PageTokenCodec } from "@caas/shared/page-token";
import { principalKey } from "@caas/shared/context";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { AuditAppender, AuditKeyManager, AuditPseudonyms, AuditServiceImpl, openAuditStore } from "@caas/compliance";
import { createContextValues } from "@connectrpc/connect";

const records = Number(process.argv[2] ?? 100_000);
const pseudonymise = process.argv[3] === "pseudonymise";
const dir = mkdtempSync(join(tmpdir(), "caas-audit-bench-"));
const logger = createLogger({ service: "audit-bench", instance: "bench", level: "silent" });
const clock = new FakeClock(Date.UTC(2026, 0, 1));
const backend = process.argv[4] ?? "sqlite";
const batch = Number(process.argv[5] ?? 1);
if (!Number.isInteger(batch) || batch < 1) throw new Error("batch must be a positive integer");
const mongoDb = `audit_bench_${process.pid}`;
const store =
  backend === "mongo"
    ? await openAuditStore({ kind: "mongo", url: process.env.CAAS_MONGO_URL ?? "mongodb://127.0.0.1:27018/", database: mongoDb, appName: "audit-bench" })
    : await openAuditStore({ kind: "sqlite", path: join(dir, "compliance.db") });
try {
  const keys = new AuditKeyManager({ store, kek: Buffer.alloc(32, 1), clock, logger });
  const pseudonyms = pseudonymise ? new AuditPseudonyms({ store, subjectKey: Buffer.alloc(32, 3), nowMs: () => clock.nowMs() }) : undefined;
  const appender = new AuditAppender({ store, clock, signer: keys, logger, checkpointEvery: 100, ...(pseudonyms ? { pseudonyms } : {}) });
  const scope = scopeForAdmin("bench");
  const draft = (i) => {
    clock.advance(1);
    return {
      sourceEventId: `e${i}`,
      source: "caas.auth.events.v1",
      eventTimeMs: clock.nowMs(),
      actor: { kind: 1, id: `user-${i % 1000}` },
      action: "auth.session.revoke",
      target: { type: "session", id: `s${i}` },
      outcome: 1,
      correlationId: `c${i}`,
      details: { reason: "SIGN_OUT", user_id: `user-${i % 1000}` },
    };
  };
  const tenth = Math.max(1, Math.floor(records / 10));
  const byTenth = [];
  let t = process.hrtime.bigint();
  let tenthStart = t;
  for (let i = 0; i < records;) {
    const n = Math.min(batch, records - i, tenth - (i % tenth));
    if (batch === 1) await appender.append(scope, draft(i));
    else
      await appender.appendBatch(
        scope,
        Array.from({ length: n }, (_, k) => draft(i + k)),
      );
    i += n;
    if (i % tenth === 0 || i === records) {
      const now = process.hrtime.bigint();
      byTenth.push(Math.round((((i - 1) % tenth) + 1) / (Number(now - tenthStart) / 1e9)));
      tenthStart = now;
    }
  }
  const appendS = Number(process.hrtime.bigint() - t) / 1e9;
  const service = new AuditServiceImpl({ store, keys, pageTokens: new PageTokenCodec(Buffer.alloc(32, 2)) });
  const ctx = { values: createContextValues().set(principalKey, { kind: "api-key", tenantId: "bench", apiKeyId: "k" }) };
  t = process.hrtime.bigint();
  const verdict = await service.verifyAuditLog({ startPosition: 0n, endPosition: 0n }, ctx);
  const verifyS = Number(process.hrtime.bigint() - t) / 1e9;
  if (!verdict.ok || verdict.recordsChecked !== BigInt(records)) throw new Error(`verification failed: ${verdict.description}`);
  console.log(
    JSON.stringify({
      records,
      backend,
      pseudonymise,
      batch,
      appendPerSecond: Math.round(records / appendS),
      verifyPerSecond: Math.round(records / verifyS),
      checkpoints: String(verdict.checkpointsChecked),
      appendPerSecondByTenth: byTenth,
    }),
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (backend === "mongo") {
    const { connectMongo } = await import("@caas/shared/mongo");
    const conn = await connectMongo(process.env.CAAS_MONGO_URL ?? "mongodb://127.0.0.1:27018/", mongoDb);
    await conn.client.db(mongoDb).dropDatabase();
    await conn.close();
  }
}
