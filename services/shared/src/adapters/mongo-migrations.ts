import type { Migration, MigrationTarget } from "../migrations.js";
import type { MongoDb } from "./mongo-client.js";
import { isMongoDuplicateKeyError } from "./mongo-errors.js";

interface MigrationDoc {
  /** The migration version. */
  _id: number;
  name: string;
  appliedAt: string;
}

/**
 * Migration bookkeeping in a MongoDB collection (default `schema_migrations`; give each store
 * its own when several share a database, since the runner refuses versions it does not know),
 * one document per applied version.
 *
 * A step is NOT atomic with its record: there are no multi-document transactions (FerretDB has
 * none at all, and a replica set cannot create indexes inside one before 4.4). So every Mongo
 * migration must be idempotent (`createIndex` with the same spec is), and a crash between the
 * step and its record re-runs the step at the next start. Two processes starting at once may
 * both run a step; the second record hits the `_id` and is ignored.
 */
export function mongoMigrationTarget(db: MongoDb, collection = "schema_migrations"): MigrationTarget<MongoDb> {
  const records = db.collection<MigrationDoc>(collection);
  return {
    db,
    applied: async () => {
      const docs = await records
        .find({}, { projection: { _id: 1 } })
        .sort({ _id: 1 })
        .toArray();
      return docs.map((d) => d._id);
    },
    apply: async (m: Migration<MongoDb>) => {
      await m.up(db);
      try {
        await records.insertOne({ _id: m.version, name: m.name, appliedAt: new Date().toISOString() }, { writeConcern: { w: "majority" } });
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
    },
  };
}
