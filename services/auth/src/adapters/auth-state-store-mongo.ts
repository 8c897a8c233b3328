import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { AuthStateStore } from "../ports/auth-state-store.js";
import { authCollections, MAJORITY, type MongoAdapterOptions } from "./auth-mongo.js";
import { checkId, checkTime } from "./checks.js";

interface StateDoc {
  /** The name. */
  _id: string;
  value: string;
  createTimeMs: number;
}

/** The cluster-mode AuthStateStore: `_id` = name, so the first insert wins. */
export function createMongoAuthStateStore(opts: MongoAdapterOptions): AuthStateStore {
  const state = opts.db.collection<StateDoc>(authCollections(opts.collectionPrefix).state, MAJORITY);

  return {
    async get(name) {
      return (await state.findOne({ _id: checkId("name", name) }))?.value;
    },

    async putIfAbsent(name, value, nowMs) {
      checkId("name", name);
      if (typeof value !== "string") throw new RangeError("value must be a string");
      try {
        await state.insertOne({ _id: name, value, createTimeMs: checkTime("nowMs", nowMs) });
        return value;
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
      return (await state.findOne({ _id: name }))!.value;
    },

    async close() {},
  };
}
