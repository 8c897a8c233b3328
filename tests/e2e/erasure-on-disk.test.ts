import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { PrivacyJobState, PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";

const embedded = inject("embedded");

/** Every regular file under `dir` (databases, their WAL and shared-memory files, blobs, credentials). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return entry.isFile() ? [path] : [];
  });
}

/** The files under the data directory whose bytes contain `marker` (read whole; a file removed meanwhile is skipped). */
function filesContaining(dir: string, marker: string): string[] {
  const needle = Buffer.from(marker);
  return filesUnder(dir).filter((path) => {
    try {
      return statSync(path).size > 0 && readFileSync(path).includes(needle);
    } catch {
      return false;
    }
  });
}

/** Polls `read` until `done` holds; no fixed sleeps. */
async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

describe("erasure leaves no copy on disk (embedded platform)", () => {
  it("after an erasure a word only the user wrote occurs in no file under the data directory, WAL files included", async () => {
    const marker = `numbat${randomUUID().replace(/-/g, "").slice(0, 12)}`;
    const adminCredential = readFileSync(join(embedded.dataDir, "admin-credential"), "utf8").trim();
    const gateway = embedded.endpoints.gateway!;
    const acme = await tenantWithUsers(gateway, adminCredential, ["alice", "bob"], "on-disk");
    const apiKey = (await acme.admin.createApiKey({ tenantId: acme.tenantId, name: "privacy" })).secret;
    const transport = (credential: string) => createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(credential)] });
    const alice = createClient(ChatService, transport(acme.token("alice")));
    const bob = createClient(ChatService, transport(acme.token("bob")));
    const search = createClient(SearchService, transport(acme.token("bob")));

    // Alice writes the marker in two conversations, once in an edit; bob answers without it.
    for (let c = 0; c < 2; c++) {
      const conversationId = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: `disk ${c}` })).conversation!.id;
      const sent = await alice.sendMessage({ conversationId, clientMessageId: `m${c}`, text: `first ${marker} note` });
      await alice.editMessage({ conversationId, messageId: sent.messageId, text: `edited ${marker} note` });
      await alice.sendMessage({ conversationId, clientMessageId: `n${c}`, text: `again ${marker}` });
      await bob.sendMessage({ conversationId, clientMessageId: `b${c}`, text: "bob writes something else" });
    }
    // The marker reached the search index.
    await until(
      () => search.searchMessages({ query: marker }),
      (r) => r.hits.length >= 4,
      "the marker indexed",
    );
    // Chat's log and the bus file hold message bodies sealed at rest (ADR 0120), so in plain
    // bytes the marker is in the search index only; erasure must remove it there as well.
    const before = filesContaining(embedded.dataDir, marker).map((p) => relative(embedded.dataDir, p));
    expect(before.some((p) => p.startsWith("search"))).toBe(true);

    const privacy = createClient(PrivacyService, transport(apiKey));
    const { job } = await privacy.requestErasure({ userId: "alice" });
    const done = await until(
      () => privacy.getJob({ jobId: job!.id }),
      (r) => r.job!.state !== PrivacyJobState.RUNNING,
      "the erasure",
    );
    expect(done.job!.state).toBe(PrivacyJobState.SUCCEEDED);
    await until(
      () => search.searchMessages({ query: marker }),
      (r) => r.hits.length === 0,
      "the search documents removed",
    );
    // Search truncates its WAL shortly after deletions: the files are checked until then.
    const left = await until(
      () => filesContaining(embedded.dataDir, marker).map((p) => relative(embedded.dataDir, p)),
      (files) => files.length === 0,
      "no file holding the marker",
      15_000,
    );
    expect(left).toEqual([]);
  }, 120_000);
});
