import type { Logger } from "@caas/shared/logger";
import type { ChatInternalCalls } from "./chat-access.js";
import type { MessageIndexer } from "./message-indexer.js";
import { SEARCH_INDEX_SCHEMA_VERSION, type SchemaStatus, type SearchIndex } from "./ports/search-index.js";

/** Where this instance's rebuild stands. */
export interface RebuildProgress {
  rebuilding: boolean;
  tenantsDone: number;
  tenantsTotal: number;
}

/** The schema figures GetIndexStatus reports. */
export interface SchemaReport extends SchemaStatus, RebuildProgress {
  codeVersion: number;
}

const TENANT_PAGE = 100;

/**
 * Brings documents written under an older index schema up to SEARCH_INDEX_SCHEMA_VERSION: for
 * every tenant the index names as holding such documents, every conversation chat still has is
 * replayed from chat's log with `upgrade` (equal versions rewritten, lower ones still refused), so
 * the index stays searchable meanwhile and a concurrent consumer write is never undone. Each tenant
 * is done once per run (documents of conversations chat no longer has stay as they are). A
 * failure (chat not up yet, index unavailable) is retried with backoff until `stop`. Several
 * instances may rebuild at once: the work is repeated, the result the same.
 */
export class SchemaRebuild {
  private progress: RebuildProgress = { rebuilding: false, tenantsDone: 0, tenantsTotal: 0 };
  private stopped = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly deps: { index: SearchIndex; chat: ChatInternalCalls; indexer: MessageIndexer; logger: Logger }) {}

  /** Starts the rebuild in the background if stored documents are older than this build's schema. */
  start(): void {
    this.running ??= this.run();
  }

  /** Resolves when the background run has ended (done, or stopped). */
  async done(): Promise<void> {
    await this.running;
  }

  /** Stops the background run after the conversation in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }

  /** The index's schema figures and this instance's progress. */
  async report(): Promise<SchemaReport> {
    return { codeVersion: SEARCH_INDEX_SCHEMA_VERSION, ...(await this.deps.index.schemaStatus()), ...this.progress };
  }

  private async run(): Promise<void> {
    const { index, logger } = this.deps;
    const done = new Set<string>();
    // An empty index, or one whose documents are all current, needs nothing.
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const status = await index.schemaStatus();
        if (status.oldestVersion >= SEARCH_INDEX_SCHEMA_VERSION) break;
        if (!this.progress.rebuilding) logger.info({ ...status, codeVersion: SEARCH_INDEX_SCHEMA_VERSION }, "search index schema is older than this build's: rebuilding from chat's log");
        this.progress.rebuilding = true;
        const tenants = (await index.tenantsBelowSchema(done.size + TENANT_PAGE)).filter((t) => !done.has(t));
        if (tenants.length === 0) break;
        this.progress.tenantsTotal = done.size + tenants.length;
        for (const tenantId of tenants) {
          if (this.stopped) return;
          await this.rebuildTenant(tenantId);
          if (this.stopped) return;
          done.add(tenantId);
          this.progress.tenantsDone = done.size;
        }
        attempt = -1;
      } catch (err) {
        const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
        logger.warn({ err, delay }, "search index rebuild failed; retrying");
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          t.unref();
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
    if (this.progress.rebuilding && !this.stopped) logger.info({ tenants: done.size }, "search index rebuild finished");
    this.progress.rebuilding = false;
  }

  private async rebuildTenant(tenantId: string): Promise<void> {
    const { chat, indexer } = this.deps;
    let pageToken = "";
    do {
      const page = await chat.scanConversations({ tenantId, pageSize: 500, pageToken });
      for (const c of page.conversations) {
        if (this.stopped) return;
        await indexer.replay(tenantId, c.id, { upgrade: true });
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }
}
