import type Database from "better-sqlite3";
import type { ChatStateStore } from "../ports/chat-state-store.js";
import { checkId, checkTime } from "./checks.js";

/** The embedded ChatStateStore: the `chat_state` table of chat's SQLite file. Single machine only. */
export function createSqliteChatStateStore(opts: { db: Database.Database }): ChatStateStore {
  const insert = opts.db.prepare("INSERT INTO chat_state (name, value, create_time_ms) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING");
  const read = opts.db.prepare<[string], { value: string }>("SELECT value FROM chat_state WHERE name = ?");
  return {
    async putIfAbsent(name, value, nowMs) {
      insert.run(checkId("name", name), value, checkTime("nowMs", nowMs));
      return read.get(name)!.value;
    },
    async close() {},
  };
}
