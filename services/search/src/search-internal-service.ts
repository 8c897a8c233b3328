import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ConversationIndexStatusSchema,
  GetIndexStatusResponseSchema,
  IndexSchemaStatusSchema,
  PartitionIndexStatusSchema,
  ReindexResponseSchema,
  EraseUserDataResponseSchema,
  EraseTenantDataResponseSchema,
  type EraseTenantDataRequest,
  type EraseTenantDataResponse,
  type EraseUserDataRequest,
  type EraseUserDataResponse,
  type GetIndexStatusRequest,
  type GetIndexStatusResponse,
  type ReindexRequest,
  type ReindexResponse,
  type SearchInternalService,
} from "@caas/gen/caas/search/v1/search_internal_service_pb.js";
import { InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { principalKey } from "@caas/shared/context";
import type { Clock } from "@caas/shared/clock";
import type { PartitionLag } from "@caas/shared/eventing/bus";
import type { SchemaRebuild } from "./schema-rebuild.js";
import type { ChatInternalCalls } from "./chat-access.js";
import type { MessageIndexer } from "./message-indexer.js";
import { SEARCH_MAX_BATCH, type SearchIndex } from "./ports/search-index.js";
import type { UserDirectory } from "./ports/user-directory.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;

function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}

/** Only service principals call SearchInternalService (the host's guard says so too). */
function serviceCallerOf(ctx: HandlerContext): string {
  const p = ctx.values.get(principalKey);
  if (p.kind === "anonymous") throw new UnauthenticatedError("a service token is required");
  if (p.kind !== "service") throw new PermissionDeniedError("SearchInternalService serves operators and other CAAS services with a service token");
  return p.service;
}

/**
 * caas.search.v1.SearchInternalService: rebuilding the index of a conversation or a tenant from
 * chat's log, the indexer's position against the log head, and erasing a user (their message
 * documents and directory entry) or a whole tenant's documents for the compliance service. Tenant and conversation ids are
 * checked by the schema (UUIDs); a conversation chat does not know is NOT_FOUND from chat.
 */
export class SearchInternalServiceImpl implements ServiceImpl<typeof SearchInternalService> {
  constructor(
    private readonly deps: {
      chat: ChatInternalCalls;
      indexer: MessageIndexer;
      clock: Clock;
      rebuild: SchemaRebuild;
      /** The search consumer group's lag per partition of chat's topic (none before it subscribed). */
      partitions: () => Promise<PartitionLag[]>;
      /** Where a user's documents and directory entry are erased. */
      index: Pick<SearchIndex, "removeSender" | "removeTenant">;
      directory: Pick<UserDirectory, "remove">;
    },
  ) {}

  async eraseUserData(req: EraseUserDataRequest, ctx: HandlerContext): Promise<EraseUserDataResponse> {
    serviceCallerOf(ctx);
    if (!UUID.test(req.tenantId)) throw invalid("tenant_id", "must be a lowercase UUID");
    if (!USER_ID.test(req.userId)) throw invalid("user_id", "must be a user id");
    const scope = scopeForAdmin(req.tenantId);
    const limit = req.pageSize === 0 ? 500 : Math.min(req.pageSize, SEARCH_MAX_BATCH);
    // The directory entry first (one row; removing it again is harmless), then a batch of documents.
    await this.deps.directory.remove(scope, req.userId);
    const removed = await this.deps.index.removeSender(scope, req.userId, limit, req.heldConversationIds);
    return create(EraseUserDataResponseSchema, { documentsRemoved: BigInt(removed), more: removed === limit });
  }

  async eraseTenantData(req: EraseTenantDataRequest, ctx: HandlerContext): Promise<EraseTenantDataResponse> {
    serviceCallerOf(ctx);
    if (!UUID.test(req.tenantId)) throw invalid("tenant_id", "must be a lowercase UUID");
    const limit = req.pageSize === 0 ? 500 : Math.min(req.pageSize, SEARCH_MAX_BATCH);
    // Nothing of the tenant is indexed here from now on, and writes already under way land first.
    await this.deps.indexer.forgetTenant(req.tenantId);
    const removed = await this.deps.index.removeTenant(scopeForAdmin(req.tenantId), limit);
    return create(EraseTenantDataResponseSchema, { documentsRemoved: BigInt(removed), more: removed === limit });
  }

  async reindex(req: ReindexRequest, ctx: HandlerContext): Promise<ReindexResponse> {
    serviceCallerOf(ctx);
    const { chat, indexer } = this.deps;
    const ids: string[] = [];
    if (req.conversationId !== "") ids.push(req.conversationId);
    else {
      let pageToken = "";
      do {
        const page = await chat.scanConversations({ tenantId: req.tenantId, pageSize: 2000, pageToken });
        ids.push(...page.conversations.map((c) => c.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
    }
    let events = 0;
    let indexed = 0;
    for (const id of ids) {
      const r = await indexer.replay(req.tenantId, id);
      events += r.events;
      indexed += r.indexed;
    }
    return create(ReindexResponseSchema, { conversations: ids.length, events: BigInt(events), indexed: BigInt(indexed) });
  }

  async getIndexStatus(req: GetIndexStatusRequest, ctx: HandlerContext): Promise<GetIndexStatusResponse> {
    serviceCallerOf(ctx);
    const { chat, indexer, clock, rebuild, partitions } = this.deps;
    const now = clock.nowMs();
    const [lags, schema] = await Promise.all([partitions(), rebuild.report()]);
    const conversations = await Promise.all(
      req.conversationIds.map(async (conversationId) => {
        const [position, head] = await Promise.all([
          indexer.position(req.tenantId, conversationId),
          chat.syncInternal({ tenantId: req.tenantId, conversationId, afterSeq: BigInt(Number.MAX_SAFE_INTEGER), limit: 1 }).then(
            (r) => Number(r.headSeq),
            () => 0,
          ),
        ]);
        return create(ConversationIndexStatusSchema, {
          conversationId,
          indexedSeq: BigInt(position.seq),
          headSeq: BigInt(head),
          lagEvents: BigInt(Math.max(0, head - position.seq)),
          sinceLastAppliedMs: BigInt(position.appliedAtMs > 0 ? Math.max(0, now - position.appliedAtMs) : 0),
        });
      }),
    );
    return create(GetIndexStatusResponseSchema, {
      conversations,
      partitions: lags.map((l) =>
        create(PartitionIndexStatusSchema, {
          partition: l.partition,
          committedOffset: BigInt(l.committedOffset),
          endOffset: BigInt(l.endOffset),
          lagEvents: BigInt(l.lagEvents),
          lagMs: BigInt(l.lagMs),
        }),
      ),
      schema: create(IndexSchemaStatusSchema, {
        codeVersion: schema.codeVersion,
        storedVersion: schema.oldestVersion,
        rebuilding: schema.rebuilding,
        documents: BigInt(schema.documents),
        currentDocuments: BigInt(schema.currentDocuments),
        tenantsDone: schema.tenantsDone,
        tenantsTotal: schema.tenantsTotal,
      }),
    });
  }
}
