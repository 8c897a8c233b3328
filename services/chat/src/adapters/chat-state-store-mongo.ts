import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { ChatStateStore } from "../ports/chat-state-store.js";
import { chatCollections, MAJORITY, type ChatMongoOptions } from "./chat-mongo.js";
import { checkId, checkTime } from "./checks.js";

interface StateDoc {
  _id: string;
  value: string;
  createTimeMs: number;
}

/** The cluster-mode ChatStateStore: one document per name; the first insert wins. */
export function createMongoChatStateStore(opts: ChatMongoOptions): ChatStateStore {
  const state = opts.db.collection<StateDoc>(chatCollections(opts.collectionPrefix).state, MAJORITY);
  return {
    async putIfAbsent(name, value, nowMs) {
      const _id = checkId("name", name);
      try {
        await state.insertOne({ _id, value, createTimeMs: checkTime("nowMs", nowMs) });
        return value;
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
      return (await state.findOne({ _id }))!.value;
    },
    async close() {},
  };
}
