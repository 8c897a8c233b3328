import type { HandlerContext } from "@connectrpc/connect";
import { NotFoundError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { principalKey } from "@caas/shared/context";
import { scopeFromVerifiedClaims, type TenantScope } from "@caas/shared/tenant-scope";
import type { Clock } from "@caas/shared/clock";
import type { EventLogStore, LogHead } from "@caas/shared/eventing/log";
import type { PageTokenCodec } from "@caas/shared/page-token";
import type { RateLimiter } from "@caas/shared/rate-limiting";
import { type TenantPolicyLookup, defaultPolicyLookup } from "@caas/shared/identity/policy";
import { DEFAULT_TENANT_RATE_FACTOR } from "@caas/shared/rate-limiting/rules";
import { takeSend } from "./chat-rate-limiter.js";
import type { LogWriter } from "./log-writer.js";
import type { ConversationRecord, ConversationStore } from "./ports/conversation-store.js";
import type { MemberRecord, MemberStore } from "./ports/member-store.js";
import type { InviteStore } from "./ports/invite-store.js";
import type { MessageMarkStore } from "./ports/message-mark-store.js";
import type { ReadStateStore } from "./ports/read-state-store.js";
import type { MentionStore } from "./ports/mention-store.js";
import type { BlockStore } from "./ports/block-store.js";
import type { ModerationStore } from "./ports/moderation-store.js";
import type { UserDirectory } from "./ports/user-directory.js";

/** The end user calling, from the verified access token only (DESIGN "Tenant scope by construction"). */
export interface Caller {
  scope: TenantScope;
  userId: string;
  /** Tenant roles from the access token (the ABAC subject's roles); none when unset. */
  roles?: readonly string[];
}

/**
 * The caller of a ChatService RPC. Anonymous callers get UNAUTHENTICATED; other credentials
 * (services, the platform admin, API keys) PERMISSION_DENIED: ChatService acts for end users.
 */
export function callerOf(ctx: HandlerContext): Caller {
  const p = ctx.values.get(principalKey);
  if (p.kind === "anonymous") throw new UnauthenticatedError("a user access token is required");
  if (p.kind !== "user") throw new PermissionDeniedError("ChatService serves end users with a user access token");
  return { scope: scopeFromVerifiedClaims({ tenant: p.tenantId }), userId: p.userId, roles: p.roles };
}

/** Tunables of the chat service. */
export interface ChatLimits {
  /** Most current members of one conversation. */
  maxMembers: number;
  /** Largest encoded `custom` Struct of a conversation or message, in bytes. */
  maxCustomBytes: number;
  /**
   * GetChanges re-reads this much before a cursor's position (by commit time): the tolerance for
   * clock skew between instances and for commits still in flight when the cursor was made.
   */
  changesOverlapMs: number;
  /** A changes cursor older than this is expired (FAILED_PRECONDITION: start again). */
  changesCursorMaxAgeMs: number;
  /** SendMessage per user (per tenant): a burst of `capacity`, refilled at `refillPerSec`. */
  sendRate: { capacity: number; refillPerSec: number };
  /** The tenant's send bucket is the user's times this (CAAS_RATE_LIMIT_TENANT_FACTOR). */
  sendTenantFactor: number;
  /** Sends one instance works on at once (CAAS_CHAT_MAX_PENDING_SENDS); more are refused with a retry delay. */
  maxPendingSends: number;
  /** The shortest retry delay of a send refused by the admission (SendAdmission). */
  overloadRetryMs: number;
  /** The longest a send should expect to spend on an instance before it is refused (CAAS_CHAT_SEND_TARGET_MS). */
  sendTargetMs: number;
}

export const DEFAULT_LIMITS: ChatLimits = {
  maxMembers: 10_000,
  maxCustomBytes: 8 * 1024,
  changesOverlapMs: 10_000,
  changesCursorMaxAgeMs: 30 * 24 * 3600 * 1000,
  sendRate: { capacity: 20, refillPerSec: 10 },
  sendTenantFactor: DEFAULT_TENANT_RATE_FACTOR,
  maxPendingSends: 64,
  overloadRetryMs: 1_000,
  sendTargetMs: 2_000,
};

/** The stores one chat instance works on. */
export interface CoreStores {
  events: EventLogStore;
  conversations: ConversationStore;
  members: MemberStore;
  readStates: ReadStateStore;
  invites: InviteStore;
  marks: MessageMarkStore;
  /** Per-user mention records (mention counts). */
  mentions: MentionStore;
  /** Mutes and bans (store of record for moderation; never cached). */
  moderation: ModerationStore;
  blocks: BlockStore;
  /** After an erasure: make what it removed unrecoverable from the files (ChatStores.scrub). */
  scrub(): Promise<void>;
}

/**
 * The conversation projection's head: where the event log may start looking for the real one
 * (AppendInput.headHint, EventLogStore.head); the log checks it.
 */
export function projectedHead(conversation: ConversationRecord): LogHead {
  return { seq: conversation.lastSeq, countableSeq: conversation.countableSeq };
}

/** A member's own view of a conversation they belong to. */
export interface MemberAccess {
  conversation: ConversationRecord;
  member: MemberRecord;
}

/** What a caller may read of a conversation. */
export type ReadAccess =
  | { kind: "member"; conversation: ConversationRecord; member: MemberRecord }
  /** A non-member of an OPEN conversation. */
  | { kind: "viewer"; conversation: ConversationRecord }
  /** A former member: events up to their departure, for Sync only. */
  | { kind: "former"; conversation: ConversationRecord; member: MemberRecord };

/**
 * What every RPC module shares: the stores, the log writer, time, page tokens, limits, and the
 * access checks. Access is always read from the store of record (never cached), and anything a
 * caller may not see is NOT_FOUND, exactly like an id that does not exist.
 */
export class ChatCore {
  constructor(
    readonly stores: CoreStores,
    readonly clock: Clock,
    readonly pageTokens: PageTokenCodec,
    readonly limits: ChatLimits,
    private readonly rateLimiter: RateLimiter,
    /** Appends events to the log; the service passes one that also applies the projections (projections/apply.ts). */
    readonly writer: LogWriter,
    /** The tenant's ABAC policy (defaults plus its grants); see ops/authorize.ts. */
    readonly policyFor: TenantPolicyLookup = defaultPolicyLookup,
    /** The tenant's users (auth); when absent, member ids are not checked against them. */
    private readonly users?: UserDirectory,
  ) {}

  /**
   * Counts one send of the caller against the user's and the tenant's `message.send` buckets
   * (the one place a send is counted, ADR 0023); RESOURCE_EXHAUSTED with the retry delay
   * (google.rpc.RetryInfo) when either is empty.
   */
  async throttle(caller: Caller, _action: "send", rule: ChatLimits["sendRate"]): Promise<void> {
    await takeSend(this.rateLimiter, caller.scope, caller.userId, rule, this.limits.sendTenantFactor);
  }

  /**
   * NOT_FOUND naming the ids that are not active users of the caller's tenant (unknown or
   * deactivated): nobody becomes a member of a conversation without being a user. The ids are
   * the caller's own input and the answer covers only the caller's tenant, so it reveals nothing
   * about other tenants.
   */
  async requireUsers(caller: Caller, userIds: readonly string[]): Promise<void> {
    if (!this.users || userIds.length === 0) return;
    const missing = await this.users.missing(caller.scope, userIds);
    if (missing.length > 0) throw new NotFoundError(`users (${missing.join(", ")})`);
  }

  /** The caller's active membership, or NOT_FOUND. */
  async requireMember(caller: Caller, conversationId: string): Promise<MemberAccess> {
    const [conversation, member] = await Promise.all([this.stores.conversations.get(caller.scope, conversationId), this.stores.members.get(caller.scope, conversationId, caller.userId)]);
    if (!conversation || conversation.deletedSeq > 0 || !member?.active) throw new NotFoundError("conversation");
    return { conversation, member };
  }

  /**
   * Read access: members, and anyone for OPEN conversations; former members too when
   * `allowFormer` (Sync), and after a deletion only they (every member then is a former one, up
   * to the deletion's seq). NOT_FOUND otherwise.
   */
  async requireReader(caller: Caller, conversationId: string, allowFormer = false): Promise<ReadAccess> {
    const [conversation, member] = await Promise.all([this.stores.conversations.get(caller.scope, conversationId), this.stores.members.get(caller.scope, conversationId, caller.userId)]);
    if (!conversation) throw new NotFoundError("conversation");
    if (conversation.deletedSeq > 0) {
      // After a deletion only Sync of its former members answers, up to the deletion.
      if (!member || !allowFormer) throw new NotFoundError("conversation");
      const leftSeq = member.active ? conversation.deletedSeq : Math.min(member.leftSeq, conversation.deletedSeq);
      return { kind: "former", conversation, member: { ...member, active: false, leftSeq } };
    }
    if (member?.active) return { kind: "member", conversation, member };
    if (conversation.joinPolicy === "open") return { kind: "viewer", conversation };
    if (member && allowFormer) return { kind: "former", conversation, member };
    throw new NotFoundError("conversation");
  }
}
