import type { Binary } from "mongodb";
import { AlreadyExistsError } from "@caas/shared/errors";
import { bytesFromBson, isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { SigningKeyStore } from "../ports/signing-key-store.js";
import { authCollections, MAJORITY, type MongoAdapterOptions } from "./auth-mongo.js";
import { checkId, checkSigningKeyRecord } from "./checks.js";

interface SigningKeyDoc {
  /** The kid. */
  _id: string;
  alg: string;
  publicJwk: string;
  /** Written as a Uint8Array (BSON binary), read back as a `Binary`. */
  encryptedPrivateKey: Uint8Array | Binary;
  createTimeMs: number;
  activateTimeMs: number;
}

/** The cluster-mode SigningKeyStore: one document per key, `_id` = kid. */
export function createMongoSigningKeyStore(opts: MongoAdapterOptions): SigningKeyStore {
  const keys = opts.db.collection<SigningKeyDoc>(authCollections(opts.collectionPrefix).signingKeys, MAJORITY);

  return {
    async insert(record) {
      checkSigningKeyRecord(record);
      try {
        await keys.insertOne({
          _id: record.kid,
          alg: record.alg,
          publicJwk: record.publicJwk,
          encryptedPrivateKey: record.encryptedPrivateKey,
          createTimeMs: record.createTimeMs,
          activateTimeMs: record.activateTimeMs,
        });
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) throw new AlreadyExistsError(`signing key ${record.kid} already exists`);
        throw err;
      }
    },

    async list() {
      const docs = await keys.find({}).sort({ activateTimeMs: 1, _id: 1 }).toArray();
      return docs.map((d) => ({
        kid: d._id,
        alg: d.alg,
        publicJwk: d.publicJwk,
        encryptedPrivateKey: bytesFromBson(d.encryptedPrivateKey),
        createTimeMs: d.createTimeMs,
        activateTimeMs: d.activateTimeMs,
      }));
    },

    async delete(kids) {
      if (kids.length === 0) return;
      await keys.deleteMany({ _id: { $in: kids.map((k) => checkId("kid", k)) } });
    },

    async close() {},
  };
}
