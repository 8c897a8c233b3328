import { MongoNetworkError, MongoServerError } from "mongodb";
import { connectMongo, isTransientMongoError, type MongoConnection } from "@caas/shared/mongo";
import { UnavailableError } from "@caas/shared/errors";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const url = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_mongo_close`;

/** How an operation ended: "ok", "UNAVAILABLE" or another error (observed at once, so no rejection goes unhandled). */
function outcome(op: Promise<unknown>): Promise<string> {
  return op.then(
    () => "ok",
    (err: unknown) => (err instanceof UnavailableError ? "UNAVAILABLE" : `other: ${String(err)}`),
  );
}

/** The outcome if it comes within `ms`, else "pending". */
function within(settled: Promise<string>, ms: number): Promise<string> {
  return Promise.race([settled, new Promise<string>((r) => setTimeout(() => r("pending"), ms))]);
}

/**
 * ADR 0026: the driver (7.9) leaves an operation pending forever when `client.close()` destroys
 * its connection between the checkout and the write of its command (it waits for a 'drain' the
 * destroyed socket never emits). Which microtask that falls on depends on the driver's internals,
 * so the close is tried at every offset of a range that covers it; each operation must settle,
 * and as UNAVAILABLE, promptly.
 */
describe.skipIf(!url)("a MongoDB connection's close settles every operation (FerretDB here)", () => {
  let setup: MongoConnection;
  beforeAll(async () => {
    setup = await connectMongo(url!, dbName);
    await setup.db.collection("docs").insertOne({ _id: "seed" } as never);
  });
  afterAll(async () => {
    await setup.client.db(dbName).dropDatabase();
    await setup.close();
  });

  it("reads, writes and cursors in flight at close reject UNAVAILABLE; none is left pending", async () => {
    const outcomes: string[] = [];
    for (let offset = 0; offset < 40; offset++) {
      const conn = await connectMongo(url!, dbName, { appName: "close-test" });
      const docs = conn.db.collection<{ _id: string; n?: number }>("docs");
      await docs.findOne({ _id: "seed" }); // a pooled connection to check out
      const ops = [
        docs.findOne({ _id: "seed" }),
        docs.insertOne({ _id: `x-${offset}-${Date.now()}` }),
        docs.updateOne({ _id: "seed" }, { $inc: { n: 1 } }),
        docs.find({}).sort({ _id: 1 }).limit(5).toArray(),
      ].map(outcome);
      for (let i = 0; i < offset; i++) await Promise.resolve();
      await conn.close();
      const results = await Promise.all(ops.map((op) => within(op, 2_000)));
      outcomes.push(...results);
      expect(
        results.filter((r) => r === "pending"),
        `close ${offset} microtasks after the operations started`,
      ).toEqual([]);
      // Whatever did not complete before the close failed UNAVAILABLE (retry elsewhere), never another code.
      expect(
        results.filter((r) => r !== "ok" && r !== "UNAVAILABLE"),
        `offset ${offset}`,
      ).toEqual([]);
    }
    // The range covered closes that caught operations in flight.
    expect(outcomes.filter((r) => r === "UNAVAILABLE").length).toBeGreaterThan(0);
  }, 120_000);

  it("an operation started after close rejects UNAVAILABLE at once", async () => {
    const conn = await connectMongo(url!, dbName);
    const docs = conn.db.collection("docs");
    await conn.close();
    await expect(within(outcome(docs.findOne({})), 1_000)).resolves.toBe("UNAVAILABLE");
    await expect(within(outcome(docs.find({}).toArray()), 1_000)).resolves.toBe("UNAVAILABLE");
    await expect(within(outcome(conn.database(dbName).collection("docs").insertOne({})), 1_000)).resolves.toBe("UNAVAILABLE");
  });
});

describe("which driver errors are transient (UNAVAILABLE, retry) rather than INTERNAL", () => {
  it("network, selection and busy-lock errors are; a duplicate key and other server errors are not", () => {
    // What FerretDB's SQLite backend answers when a write waited past its busy timeout (seen at 64 sends in flight).
    const busy = new MongoServerError({ ok: 0, code: 1, errmsg: "[collection.go:177 sqlite.(*collection).UpdateAll.func1] database is locked (5) (SQLITE_BUSY)" });
    expect(isTransientMongoError(busy)).toBe(true);
    expect(isTransientMongoError(new MongoNetworkError("connection reset"))).toBe(true);
    expect(isTransientMongoError(new MongoServerError({ ok: 0, code: 91, errmsg: "shutdown in progress" }))).toBe(true);
    expect(isTransientMongoError(new MongoServerError({ ok: 0, code: 11000, errmsg: "E11000 duplicate key" }))).toBe(false);
    expect(isTransientMongoError(new MongoServerError({ ok: 0, code: 2, errmsg: "bad value" }))).toBe(false);
    expect(isTransientMongoError(new TypeError("x"))).toBe(false);
  });
});
