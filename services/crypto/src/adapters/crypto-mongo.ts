import type { Collection, CollectionOptions, Document } from "mongodb";
import { mongoMigrationTarget } from "@caas/shared/mongo/migrations";
import { runMigrations, type Migration, type MigrationResult } from "@caas/shared/migrations";
import type { MongoCollection, MongoDb } from "@caas/shared/mongo";

/** The collection operations the crypto Mongo adapters use: the shared ones plus deletes and countDocuments. */
export type CryptoMongoCollection<T extends Document = Document> = MongoCollection<T> &
  Pick<Collection<T>, "insertMany" | "deleteOne" | "deleteMany" | "countDocuments" | "findOneAndDelete" | "findOneAndUpdate">;

/**
 * A database as the crypto adapters see it (the driver's `Db` satisfies it). Only driver types
 * are imported here; services/shared mongo-client owns the driver.
 */
export interface CryptoMongoDb extends MongoDb {
  collection<T extends Document = Document>(name: string, options?: Pick<CollectionOptions, "readConcern" | "writeConcern">): CryptoMongoCollection<T>;
}

/** Collection names, all starting with a prefix ("crypto_" in production; tests add their own). */
export function cryptoCollections(prefix = "crypto_") {
  return {
    devices: `${prefix}devices`,
    oneTimeKeys: `${prefix}one_time_keys`,
    claims: `${prefix}claims`,
    history: `${prefix}history`,
    signingKeys: `${prefix}signing_keys`,
    migrations: `${prefix}migrations`,
  };
}

/** Write concern of every crypto write (a replica set acknowledges on a majority). */
export const MAJORITY = { writeConcern: { w: "majority" as const } };

/**
 * The crypto MongoDB schema steps (indexes); append only, each idempotent (FerretDB has no
 * transactions). Document ids lead with the tenant id; secondary indexes lead with `tenantId`.
 */
export function cryptoMongoMigrations(prefix = "crypto_"): Migration<MongoDb>[] {
  const c = cryptoCollections(prefix);
  return [
    {
      version: 1,
      name: "device and one-time prekey indexes",
      async up(db) {
        await db.collection(c.devices).createIndex({ tenantId: 1, userId: 1, deviceId: 1 }, { name: "tenant_user_device" });
        await db.collection(c.oneTimeKeys).createIndex({ tenantId: 1, userId: 1, deviceId: 1, generation: 1, claimed: 1, keyId: 1 }, { name: "tenant_device_unclaimed" });
        await db.collection(c.claims).createIndex({ tenantId: 1, userId: 1, deviceId: 1 }, { name: "tenant_user_device" });
      },
    },
  ];
}

/** Brings the crypto collections under `collectionPrefix` up to the newest migration. */
export async function migrateCryptoMongo(opts: { db: MongoDb; collectionPrefix?: string; onMigrated?: (result: MigrationResult) => void }): Promise<MigrationResult> {
  const prefix = opts.collectionPrefix ?? "crypto_";
  const result = await runMigrations(mongoMigrationTarget(opts.db, cryptoCollections(prefix).migrations), cryptoMongoMigrations(prefix));
  opts.onMigrated?.(result);
  return result;
}

/** A driver Binary or a Uint8Array read back from a document, as a plain Uint8Array. */
export function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  const v = value as { buffer?: Uint8Array; value?: () => Uint8Array };
  if (v && typeof v.value === "function") return new Uint8Array(v.value());
  if (v?.buffer instanceof Uint8Array) return new Uint8Array(v.buffer);
  throw new TypeError("a stored key is not binary");
}
