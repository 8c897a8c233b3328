import { MongoClient, type Collection, type Document } from "mongodb";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const url = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_gin`;

interface Doc {
  _id: string;
  tenantId: string;
  n: number;
  other: string;
}

/**
 * How the server plans a find, reduced to what matters here: whether it scans the whole
 * collection. FerretDB on PostgreSQL answers explain with PostgreSQL's plan ("Seq Scan" against
 * "Bitmap Index Scan"/"Index Scan"), MongoDB with its stages ("COLLSCAN" against "IXSCAN" or "IDHACK").
 */
async function plan(docs: Collection<Doc>, filter: Document): Promise<"index" | "scan"> {
  const text = JSON.stringify(await docs.find(filter).explain("queryPlanner"));
  if (text.includes('"Seq Scan"') || text.includes('"COLLSCAN"')) return "scan";
  if (/Index Scan|IXSCAN|IDHACK/.test(text)) return "index";
  throw new Error(`an explain output of unknown shape: ${text.slice(0, 500)}`);
}

/**
 * FerretDB v1 filters `field = v` as `_jsonb->'field' @> v`, which its own btree indexes cannot
 * serve; tests/infra/up installs docs/operations/ferretdb-gin-indexes.sql, whose event triggers
 * give every indexed field a GIN index that can (ADR 0165). Without them every find, update and
 * delete of cluster mode scans its collection. On MongoDB the same assertions hold natively.
 */
describe.skipIf(!url)("equality filters on indexed fields are answered from an index (FerretDB: companion GIN indexes)", () => {
  let client: MongoClient;
  let docs: Collection<Doc>;
  beforeAll(async () => {
    client = await new MongoClient(url!).connect();
    docs = client.db(dbName).collection<Doc>("docs");
    await docs.createIndex({ tenantId: 1, n: 1 }, { name: "tenant_n" });
    // Enough rows that a scan is never the cheaper plan.
    const rows = Array.from({ length: 3000 }, (_, i) => ({ _id: `doc-${i}`, tenantId: `t${i % 10}`, n: i, other: `o${i}` }));
    for (let i = 0; i < rows.length; i += 1000) await docs.insertMany(rows.slice(i, i + 1000));
  });
  afterAll(async () => {
    await client?.db(dbName).dropDatabase();
    await client?.close();
  });

  it("finds by _id, by the index's first field and by its second (a number) use an index; an unindexed field is scanned", async () => {
    expect(await plan(docs, { _id: "doc-1234" })).toBe("index");
    expect(await plan(docs, { tenantId: "t3" })).toBe("index");
    expect(await plan(docs, { n: 1234 })).toBe("index");
    expect(await plan(docs, { other: "o1234" })).toBe("scan");
    // The answers themselves are unchanged.
    expect(await docs.findOne({ _id: "doc-1234" })).toEqual({ _id: "doc-1234", tenantId: "t4", n: 1234, other: "o1234" });
    expect(await docs.countDocuments({ tenantId: "t3" })).toBe(300);
    expect((await docs.find({ n: 1234 }).toArray()).map((d) => d._id)).toEqual(["doc-1234"]);
  });

  it("the collection lists only its own indexes, and after dropIndexes its fields are scanned again while _id keeps its index", async () => {
    expect((await docs.indexes()).map((i) => i.name).sort()).toEqual(["_id_", "tenant_n"]);
    await docs.dropIndex("tenant_n");
    expect((await docs.indexes()).map((i) => i.name)).toEqual(["_id_"]);
    expect(await plan(docs, { n: 1234 })).toBe("scan");
    expect(await plan(docs, { _id: "doc-1234" })).toBe("index");
    await docs.createIndex({ n: 1 }, { name: "n" });
    expect(await plan(docs, { n: 1234 })).toBe("index");
  });
});
