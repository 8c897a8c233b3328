import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { GetReencryptionProgressResponseSchema, ReencryptionState, type GetReencryptionProgressResponse } from "@caas/gen/caas/chat/v1/message_keys_internal_service_pb.js";
import type { Clock } from "@caas/shared/clock";
import type { EventLogStore } from "@caas/shared/eventing/log";
import type { Logger } from "@caas/shared/logger";
import { chatEventAad, openBody } from "@caas/shared/sealing/chat-events";
import { seal, sealedKeyId, type DataKey } from "@caas/shared/sealing/box";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import type { MessageKeyring } from "./message-keyring.js";
import type { ConversationStore } from "./ports/conversation-store.js";
import type { DataKeyStore, StoredReencryption } from "./ports/data-key-store.js";
import { openPreview, previewKeyId, sealPreview } from "./sealed-conversations.js";

/** Entries read per page of a run (progress is saved after each). */
const PAGE = 500;

/** Where a run stands: in the log after an entry, or among the previews after a conversation. */
type Position = { phase: "log"; conversationId: string; seq: number } | { phase: "previews"; afterId: string };

const STATES = { running: ReencryptionState.RUNNING, done: ReencryptionState.DONE, failed: ReencryptionState.FAILED } as const;

/**
 * Re-encrypts a tenant's stored messages under its current data key after a rotation, in the
 * background, one run per tenant at a time on this instance (ADR 0120): every log entry sealed
 * with another key (or stored before sealing existed) is opened and sealed again, then every
 * conversation's last-message preview. A redaction racing the run wins (the rewrite is
 * conditional on the redacted flag). Entries whose key was destroyed stay as they are (counted as
 * unreadable). Progress (counts and position) is saved in the data-key store after every page,
 * so any instance reports it and a run cut short by a restart goes on from its last saved page
 * when chat starts again (`resumeAll`); re-sealing an entry twice changes nothing.
 */
export class Reencryption {
  private readonly active = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: { events: EventLogStore; conversations: ConversationStore; keys: MessageKeyring; store: DataKeyStore; clock: Clock; logger: Logger }) {}

  /** Whether a run of the tenant is in progress here. */
  running(tenantId: string): boolean {
    return this.active.has(tenantId);
  }

  /** Starts a run under `key` (the tenant's new current key); resolves when it ended (callers need not wait). */
  async start(tenantId: string, key: DataKey): Promise<void> {
    const run: StoredReencryption = { tenantId, keyId: key.id, state: "running", scanned: 0, resealed: 0, unreadable: 0, cursor: "", startMs: this.deps.clock.nowMs(), endMs: 0, error: "" };
    await this.deps.store.saveRun(run);
    return this.launch(run, key);
  }

  /** Goes on with every run left RUNNING (a restart cut it short), from its last saved page; resolves once they ended. */
  async resumeAll(): Promise<void> {
    const runs = await this.deps.store.runningRuns(1000);
    const resumed: Promise<void>[] = [];
    for (const run of runs) {
      if (this.active.has(run.tenantId)) continue;
      const key = await this.deps.keys.key(run.tenantId, run.keyId);
      if (!key) {
        await this.finish(run, new Error("the run's data key was destroyed (the tenant was shredded)"));
        continue;
      }
      this.deps.logger.info({ tenantId: run.tenantId, keyId: run.keyId, scanned: run.scanned }, "resuming a re-encryption cut short");
      resumed.push(this.launch(run, key));
    }
    await Promise.all(resumed);
  }

  /** Stops the runs after their current page (they stay RUNNING and resume at the next start) and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.active.values()]);
  }

  /** The tenant's latest run, as saved (on any instance). */
  async progress(tenantId: string): Promise<GetReencryptionProgressResponse> {
    const r = await this.deps.store.run(tenantId);
    if (!r) return create(GetReencryptionProgressResponseSchema, { state: ReencryptionState.IDLE });
    return create(GetReencryptionProgressResponseSchema, {
      state: STATES[r.state],
      keyId: r.keyId,
      scanned: BigInt(r.scanned),
      resealed: BigInt(r.resealed),
      unreadable: BigInt(r.unreadable),
      startTime: timestampFromMs(r.startMs),
      ...(r.endMs > 0 ? { endTime: timestampFromMs(r.endMs) } : {}),
      error: r.error,
    });
  }

  private launch(run: StoredReencryption, key: DataKey): Promise<void> {
    const done = this.run(run, key).then(
      (finished) => (finished ? this.finish(run) : undefined),
      (err: unknown) => this.finish(run, err),
    );
    const tracked = done.finally(() => this.active.delete(run.tenantId));
    this.active.set(run.tenantId, tracked);
    return tracked;
  }

  private async finish(run: StoredReencryption, err?: unknown): Promise<void> {
    const { logger, clock, store } = this.deps;
    run.state = err === undefined ? "done" : "failed";
    run.endMs = clock.nowMs();
    run.error = err === undefined ? "" : err instanceof Error ? err.message : "re-encryption failed";
    if (err === undefined)
      logger.info({ tenantId: run.tenantId, keyId: run.keyId, scanned: run.scanned, resealed: run.resealed, unreadable: run.unreadable }, "tenant messages re-encrypted under the new data key");
    else logger.warn({ err, tenantId: run.tenantId, keyId: run.keyId }, "re-encryption failed; RotateDataKey starts it again");
    await store.saveRun(run).catch((e: unknown) => logger.warn({ err: e, tenantId: run.tenantId }, "re-encryption state not saved"));
  }

  /** Runs from the saved position; true once everything was handled, false when stopped first. */
  private async run(run: StoredReencryption, key: DataKey): Promise<boolean> {
    const { events, keys, store } = this.deps;
    const tenantId = run.tenantId;
    const scope = scopeForAdmin(tenantId);
    let at: Position | undefined = run.cursor === "" ? undefined : (JSON.parse(run.cursor) as Position);
    while (at?.phase !== "previews") {
      if (this.stopped) return false;
      const page = await events.scanTenant(scope, at, PAGE);
      for (const e of page) {
        run.scanned++;
        if (sealedKeyId(e.body) === key.id) continue;
        const aad = chatEventAad(tenantId, e.conversationId, e.seq);
        const plain = await openBody(keys, tenantId, e.body, aad);
        if (!plain) run.unreadable++;
        else if (await events.rewriteBody(scope, e.conversationId, e.seq, seal(key, plain, aad), e.redacted)) run.resealed++;
      }
      const last = page[page.length - 1];
      at = page.length < PAGE || !last ? { phase: "previews", afterId: "" } : { phase: "log", conversationId: last.conversationId, seq: last.seq };
      run.cursor = JSON.stringify(at);
      await store.saveRun(run);
    }
    return this.resealPreviews(run, key, at.afterId);
  }

  /** Seals every conversation's stored preview under `key` again (through the projection's own update, which keeps the newest). */
  private async resealPreviews(run: StoredReencryption, key: DataKey, from: string): Promise<boolean> {
    const { conversations, keys, store } = this.deps;
    const tenantId = run.tenantId;
    const scope = scopeForAdmin(tenantId);
    let afterId = from;
    for (;;) {
      if (this.stopped) return false;
      const page = await conversations.scan(scope, { limit: PAGE, ...(afterId ? { afterId } : {}) });
      for (const c of page) {
        const m = c.lastMessage;
        if (!m || m.textPreview === "" || previewKeyId(m.textPreview) === key.id) continue;
        const text = await openPreview(keys, tenantId, c.id, m.textPreview);
        await conversations.replacePreview(scope, c.id, m.seq, await sealPreview(keys, tenantId, c.id, text));
        run.resealed++;
      }
      if (page.length < PAGE) return true;
      afterId = page[page.length - 1]!.id;
      run.cursor = JSON.stringify({ phase: "previews", afterId } satisfies Position);
      await store.saveRun(run);
    }
  }
}
