import type { Binary } from "mongodb";
import { bytesFromBson, isMongoDuplicateKeyError, upsertRetryingOnce, type MongoDb } from "@caas/shared/mongo";
import { mongoMigrationTarget } from "@caas/shared/mongo/migrations";
import { runMigrations, type Migration } from "@caas/shared/migrations";
import type { DataKeyStore, StoredDataKey, StoredReencryption } from "../ports/data-key-store.js";
import { MAJORITY, type ChatMongoOptions } from "./chat-mongo.js";
import { checkId } from "./checks.js";

interface KeyDoc {
  /** `<tenant>|<keyId>`. */
  _id: string;
  tenantId: string;
  keyId: string;
  generation: number;
  wrapped: Uint8Array | Binary;
  kekId: string;
  createTimeMs: number;
}

/** A tenant's latest re-encryption run (`_id` the tenant). */
type RunDoc = Omit<StoredReencryption, "tenantId"> & { _id: string };

function migrations(collection: string, runs: string): Migration<MongoDb>[] {
  return [
    {
      version: 1,
      name: "per-tenant data keys",
      async up(db) {
        await db.collection(collection).createIndex({ tenantId: 1, generation: 1 }, { unique: true, name: "tenant_generation" });
      },
    },
    {
      version: 2,
      name: "re-encryption runs",
      async up(db) {
        await db.collection(runs).createIndex({ state: 1, startMs: 1 }, { name: "state_start" });
      },
    },
  ];
}

/**
 * The cluster-mode DataKeyStore: one document per key (`<prefix>data_keys`, id `<tenant>|<key id>`),
 * a unique (tenantId, generation) index so two instances making a tenant's next key at once store
 * one. Destroying overwrites each key's bytes before deleting the documents; what the server's
 * storage engine keeps of deleted documents is out of reach (the KEK still protects it).
 */
export async function createMongoDataKeyStore(opts: ChatMongoOptions): Promise<DataKeyStore> {
  const prefix = opts.collectionPrefix ?? "chat_";
  const name = `${prefix}data_keys`;
  const runsName = `${prefix}reencryption_runs`;
  await runMigrations(mongoMigrationTarget(opts.db, `${prefix}data_key_migrations`), migrations(name, runsName));
  const keys = opts.db.collection<KeyDoc>(name, MAJORITY);
  const runs = opts.db.collection<RunDoc>(runsName, MAJORITY);
  const runOf = (d: RunDoc | null | undefined): StoredReencryption | undefined => {
    if (!d) return undefined;
    const { _id, keyId, state, scanned, resealed, unreadable, cursor, startMs, endMs, error } = d;
    return { tenantId: _id, keyId, state, scanned, resealed, unreadable, cursor, startMs, endMs, error };
  };
  return {
    async current(tenantId) {
      const [doc] = await keys
        .find({ tenantId: checkId("tenantId", tenantId) })
        .sort({ generation: -1 })
        .limit(1)
        .toArray();
      return keyOf(doc);
    },
    async get(tenantId, keyId) {
      return keyOf((await keys.findOne({ _id: `${checkId("tenantId", tenantId)}|${checkId("keyId", keyId)}` })) ?? undefined);
    },
    async insert(k) {
      const doc: KeyDoc = {
        _id: `${checkId("tenantId", k.tenantId)}|${checkId("keyId", k.keyId)}`,
        tenantId: k.tenantId,
        keyId: k.keyId,
        generation: k.generation,
        wrapped: Buffer.from(k.wrapped),
        kekId: k.kekId,
        createTimeMs: k.createTimeMs,
      };
      try {
        await keys.insertOne(doc);
        return true;
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) return false;
        throw err;
      }
    },
    async destroyAll(tenantId) {
      const t = checkId("tenantId", tenantId);
      const all = await keys.find({ tenantId: t }).toArray();
      for (const d of all) await keys.updateOne({ _id: d._id }, { $set: { wrapped: Buffer.alloc(bytesFromBson(d.wrapped).length) } });
      await keys.deleteMany({ tenantId: t });
      return all.length;
    },
    async saveRun(r) {
      const { tenantId, ...rest } = r;
      checkId("keyId", r.keyId);
      await upsertRetryingOnce(() => runs.updateOne({ _id: checkId("tenantId", tenantId) }, { $set: rest }, { upsert: true }));
    },
    async run(tenantId) {
      return runOf(await runs.findOne({ _id: checkId("tenantId", tenantId) }));
    },
    async runningRuns(limit) {
      return (await runs.find({ state: "running" }).sort({ startMs: 1 }).limit(limit).toArray()).map((d) => runOf(d)!);
    },
    async close() {},
  };
}

function keyOf(d: KeyDoc | undefined): StoredDataKey | undefined {
  if (!d) return undefined;
  return { tenantId: d.tenantId, keyId: d.keyId, generation: d.generation, wrapped: bytesFromBson(d.wrapped), kekId: d.kekId, createTimeMs: d.createTimeMs };
}
