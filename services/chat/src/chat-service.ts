import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type {
  AcceptInviteRequest,
  AddMembersRequest,
  ArchiveConversationRequest,
  ChatService,
  CreateInviteRequest,
  DeleteConversationRequest,
  DeleteMessageRequest,
  EditMessageRequest,
  ListEditHistoryRequest,
  AddReactionRequest,
  RemoveReactionRequest,
  PinMessageRequest,
  UnpinMessageRequest,
  ListPinsRequest,
  JoinConversationRequest,
  UnarchiveConversationRequest,
  UpdateConversationRequest,
  CreateConversationRequest,
  GetChangesRequest,
  GetConversationRequest,
  GetMessageRequest,
  GetUnreadCountsRequest,
  LeaveConversationRequest,
  ListConversationsRequest,
  ListMembersRequest,
  ListMessagesRequest,
  ListThreadRepliesRequest,
  MarkReadRequest,
  MarkDeliveredRequest,
  ForwardMessageRequest,
  ListReadByRequest,
  RemoveMemberRequest,
  RevokeInviteRequest,
  SendMessageRequest,
  SyncRequest,
  UpdateMemberRoleRequest,
  MuteMemberRequest,
  UnmuteMemberRequest,
  BanMemberRequest,
  UnbanMemberRequest,
  FreezeConversationRequest,
  UnfreezeConversationRequest,
  BlockUserRequest,
  UnblockUserRequest,
  ListBlockedUsersRequest,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import type { Clock } from "@caas/shared/clock";
import type { LogEvent } from "@caas/shared/eventing/log";
import type { PageTokenCodec } from "@caas/shared/page-token";
import type { RateLimiter } from "@caas/shared/rate-limiting";
import type { TenantPolicyLookup } from "@caas/shared/identity/policy";
import { ProjectingLogWriter } from "./projections/apply.js";
import { UserDataOps } from "./ops/user-data-ops.js";
import { callerOf, ChatCore, DEFAULT_LIMITS, type ChatLimits, type CoreStores } from "./core.js";
import type { TenantRowEraser } from "./ports/chat-stores.js";
import { RecentAcks } from "./recent-acks.js";
import { sendAttempt } from "./send-attempt.js";
import { SendAdmission } from "./send-admission.js";
import { ChangesOps } from "./ops/changes-ops.js";
import { ConversationOps } from "./ops/conversation-ops.js";
import { DeleteOps } from "./ops/delete-ops.js";
import { EditOps } from "./ops/edit-ops.js";
import { PinOps } from "./ops/pin-ops.js";
import { ReactionOps } from "./ops/reaction-ops.js";
import { InviteOps } from "./ops/invite-ops.js";
import { MemberOps } from "./ops/member-ops.js";
import { MessageOps } from "./ops/message-ops.js";
import { SettingsOps } from "./ops/settings-ops.js";
import { SyncOps } from "./ops/sync-ops.js";
import { ForwardOps } from "./ops/forward-ops.js";
import { BlockOps } from "./ops/block-ops.js";
import { ModerationOps } from "./ops/moderation-ops.js";
import { ReceiptOps } from "./ops/receipt-ops.js";
import type { UserStatePublisher } from "./user-state.js";
import type { MediaAttacher } from "./ports/media-attacher.js";
import type { UserDirectory } from "./ports/user-directory.js";
import { ThreadOps } from "./ops/thread-ops.js";
import type { ProjectedCommits } from "./projections/projected-commits.js";

/** Every RPC of caas.chat.v1.ChatService: the compiler checks the class implements them all. */
export type ChatServiceRpcs = ServiceImpl<typeof ChatService>;

export interface ChatServiceDeps {
  /** The stores; with `tenantRows` (every ChatStores has it) EraseTenantData works, else it is FAILED_PRECONDITION. */
  stores: CoreStores & { tenantRows?: TenantRowEraser };
  clock: Clock;
  /** Signs page tokens and changes cursors; shared by every instance (ChatStateStore). */
  pageTokens: PageTokenCodec;
  limits?: Partial<ChatLimits>;
  /** Per-user rate limits (memory or Redis, chosen by the run mode in chat-rate-limiter.ts). */
  rateLimiter: RateLimiter;
  /** Called after each new commit to the log, in the request's async context (the relay hook). */
  onCommit?: (event: LogEvent) => void;
  /** Publishes read and delivery marker moves on `caas.chat.userstate.v1` (live receipts); none: not published. */
  publishUserState?: UserStatePublisher;
  /** The tenant's ABAC policy (defaults plus per-tenant grants); the defaults when omitted (ADR 0020). */
  policyFor?: TenantPolicyLookup;
  /** The tenant's users: conversations and AddMembers refuse ids that are not active users; none: not checked. */
  users?: UserDirectory;
  /** Attaches message attachments through the media service; none: sends with attachments are UNAVAILABLE. */
  media?: MediaAttacher;
  /** Shared with this instance's projector: what the commit path applied, the projector skips (ADR 0105). */
  projected?: ProjectedCommits;
}

/**
 * caas.chat.v1.ChatService for end users: conversations and their settings, membership
 * and invites, sending,
 * edits with their history, delete for everyone, reactions and pins, forwards, mentions, delivery and read markers and read-by, history, Sync, unread counts and the changes cursor. Every RPC acts for the
 * user of the verified access token (principalKey) in that user's tenant; anything the caller
 * may not see answers NOT_FOUND.
 */
export class ChatServiceImpl implements ChatServiceRpcs {
  private readonly conversations: ConversationOps;
  private readonly settings: SettingsOps;
  private readonly members: MemberOps;
  private readonly invites: InviteOps;
  private readonly messages: MessageOps;
  private readonly deletes: DeleteOps;
  private readonly edits: EditOps;
  private readonly reactions: ReactionOps;
  private readonly pins: PinOps;
  private readonly syncs: SyncOps;
  private readonly threads: ThreadOps;
  private readonly changes: ChangesOps;
  private readonly forwards: ForwardOps;
  private readonly moderation: ModerationOps;
  private readonly blocks: BlockOps;
  private readonly receipts: ReceiptOps;
  /** ChatInternalService's user-data RPCs (export and erasure for the compliance service), on this instance's core. */
  readonly userData: UserDataOps;
  /** The bound on sends in progress (SendMessage and ForwardMessage): refused early past it. */
  private readonly admission: SendAdmission;
  /** The acks of the sends committed here last, for their clients' retries (recent-acks.ts). */
  private readonly recentAcks = new RecentAcks();

  constructor(deps: ChatServiceDeps) {
    const limits = { ...DEFAULT_LIMITS, ...deps.limits };
    // The commit path applies every projection itself (read-your-writes); the projector repairs and replays (ADR 0021).
    const writer = new ProjectingLogWriter(
      deps.stores,
      { events: deps.stores.events, conversations: deps.stores.conversations, ...(deps.onCommit ? { onCommit: deps.onCommit } : {}) },
      deps.projected,
    );
    const core = new ChatCore(deps.stores, deps.clock, deps.pageTokens, limits, deps.rateLimiter, writer, deps.policyFor, deps.users);
    this.admission = new SendAdmission({ max: limits.maxPendingSends, retryAfterMs: limits.overloadRetryMs, targetMs: limits.sendTargetMs });
    this.conversations = new ConversationOps(core);
    this.settings = new SettingsOps(core, this.conversations);
    this.members = new MemberOps(core, this.conversations);
    this.invites = new InviteOps(core, this.conversations, this.members);
    this.messages = new MessageOps(core, deps.media);
    this.deletes = new DeleteOps(core, this.messages);
    this.edits = new EditOps(core, this.messages);
    this.reactions = new ReactionOps(core, this.messages);
    this.pins = new PinOps(core, this.messages);
    this.syncs = new SyncOps(core);
    this.threads = new ThreadOps(core, this.messages);
    this.changes = new ChangesOps(core);
    this.forwards = new ForwardOps(core, this.messages);
    this.moderation = new ModerationOps(core);
    this.blocks = new BlockOps(core, deps.publishUserState);
    this.receipts = new ReceiptOps(core, this.messages, deps.publishUserState);
    this.userData = new UserDataOps(core, deps.stores.tenantRows);
  }

  async createConversation(req: CreateConversationRequest, ctx: HandlerContext) {
    return this.conversations.create(callerOf(ctx), req);
  }

  async getConversation(req: GetConversationRequest, ctx: HandlerContext) {
    return this.conversations.get(callerOf(ctx), req.conversationId);
  }

  async listConversations(req: ListConversationsRequest, ctx: HandlerContext) {
    return this.conversations.list(callerOf(ctx), req);
  }

  async updateConversation(req: UpdateConversationRequest, ctx: HandlerContext) {
    return this.settings.update(callerOf(ctx), req);
  }

  async archiveConversation(req: ArchiveConversationRequest, ctx: HandlerContext) {
    return this.settings.archive(callerOf(ctx), req.conversationId);
  }

  async unarchiveConversation(req: UnarchiveConversationRequest, ctx: HandlerContext) {
    return this.settings.unarchive(callerOf(ctx), req.conversationId);
  }

  async deleteConversation(req: DeleteConversationRequest, ctx: HandlerContext) {
    return this.settings.delete(callerOf(ctx), req.conversationId);
  }

  async joinConversation(req: JoinConversationRequest, ctx: HandlerContext) {
    return this.members.join(callerOf(ctx), req.conversationId);
  }

  async createInvite(req: CreateInviteRequest, ctx: HandlerContext) {
    return this.invites.create(callerOf(ctx), req);
  }

  async acceptInvite(req: AcceptInviteRequest, ctx: HandlerContext) {
    return this.invites.accept(callerOf(ctx), req);
  }

  async revokeInvite(req: RevokeInviteRequest, ctx: HandlerContext) {
    return this.invites.revoke(callerOf(ctx), req);
  }

  async addMembers(req: AddMembersRequest, ctx: HandlerContext) {
    return this.members.add(callerOf(ctx), req);
  }

  async removeMember(req: RemoveMemberRequest, ctx: HandlerContext) {
    return this.members.remove(callerOf(ctx), req);
  }

  async leaveConversation(req: LeaveConversationRequest, ctx: HandlerContext) {
    return this.members.leave(callerOf(ctx), req.conversationId);
  }

  async updateMemberRole(req: UpdateMemberRoleRequest, ctx: HandlerContext) {
    return this.members.updateRole(callerOf(ctx), req);
  }

  async listMembers(req: ListMembersRequest, ctx: HandlerContext) {
    return this.members.list(callerOf(ctx), req);
  }

  /**
   * Past the instance's bound, or not expected to finish within the caller's deadline: RESOURCE_EXHAUSTED with a retry delay; a caller gone before the commit abandons the send.
   * The same request again, once committed here, gets its ack from memory (RecentAcks).
   */
  async sendMessage(req: SendMessageRequest, ctx: HandlerContext) {
    const caller = callerOf(ctx);
    const attempt = sendAttempt(caller, req.clientMessageId, ctx);
    const known = attempt.key === undefined ? undefined : this.recentAcks.get(attempt.key, req);
    if (known) return known;
    const ack = await this.admission.run(ctx.timeoutMs(), () => this.messages.send(caller, req, { signal: ctx.signal }), attempt);
    if (attempt.key !== undefined) this.recentAcks.remember(attempt.key, req, ack);
    return ack;
  }

  async editMessage(req: EditMessageRequest, ctx: HandlerContext) {
    return this.edits.edit(callerOf(ctx), req);
  }

  async listEditHistory(req: ListEditHistoryRequest, ctx: HandlerContext) {
    return this.edits.history(callerOf(ctx), req);
  }

  async addReaction(req: AddReactionRequest, ctx: HandlerContext) {
    return this.reactions.add(callerOf(ctx), req);
  }

  async removeReaction(req: RemoveReactionRequest, ctx: HandlerContext) {
    return this.reactions.remove(callerOf(ctx), req);
  }

  async pinMessage(req: PinMessageRequest, ctx: HandlerContext) {
    return this.pins.pin(callerOf(ctx), req);
  }

  async unpinMessage(req: UnpinMessageRequest, ctx: HandlerContext) {
    return this.pins.unpin(callerOf(ctx), req);
  }

  async listPins(req: ListPinsRequest, ctx: HandlerContext) {
    return this.pins.list(callerOf(ctx), req);
  }

  async deleteMessage(req: DeleteMessageRequest, ctx: HandlerContext) {
    return this.deletes.delete(callerOf(ctx), req);
  }

  async listMessages(req: ListMessagesRequest, ctx: HandlerContext) {
    return this.messages.list(callerOf(ctx), req);
  }

  async getMessage(req: GetMessageRequest, ctx: HandlerContext) {
    return this.messages.get(callerOf(ctx), req);
  }

  async listThreadReplies(req: ListThreadRepliesRequest, ctx: HandlerContext) {
    return this.threads.replies(callerOf(ctx), req);
  }

  async sync(req: SyncRequest, ctx: HandlerContext) {
    return this.syncs.sync(callerOf(ctx), req);
  }

  async getChanges(req: GetChangesRequest, ctx: HandlerContext) {
    return this.changes.changes(callerOf(ctx), req);
  }

  async markRead(req: MarkReadRequest, ctx: HandlerContext) {
    return this.receipts.markRead(callerOf(ctx), req);
  }

  async markDelivered(req: MarkDeliveredRequest, ctx: HandlerContext) {
    return this.receipts.markDelivered(callerOf(ctx), req);
  }

  async listReadBy(req: ListReadByRequest, ctx: HandlerContext) {
    return this.receipts.listReadBy(callerOf(ctx), req);
  }

  async forwardMessage(req: ForwardMessageRequest, ctx: HandlerContext) {
    const caller = callerOf(ctx);
    return this.admission.run(ctx.timeoutMs(), () => this.forwards.forward(caller, req, ctx.signal), sendAttempt(caller, req.clientMessageId, ctx));
  }

  async getUnreadCounts(req: GetUnreadCountsRequest, ctx: HandlerContext) {
    return this.syncs.unreadCounts(callerOf(ctx), req);
  }

  async muteMember(req: MuteMemberRequest, ctx: HandlerContext) {
    return this.moderation.mute(callerOf(ctx), req);
  }

  async unmuteMember(req: UnmuteMemberRequest, ctx: HandlerContext) {
    return this.moderation.unmute(callerOf(ctx), req);
  }

  async banMember(req: BanMemberRequest, ctx: HandlerContext) {
    return this.moderation.ban(callerOf(ctx), req);
  }

  async unbanMember(req: UnbanMemberRequest, ctx: HandlerContext) {
    return this.moderation.unban(callerOf(ctx), req);
  }

  async freezeConversation(req: FreezeConversationRequest, ctx: HandlerContext) {
    return this.moderation.freeze(callerOf(ctx), req);
  }

  async unfreezeConversation(req: UnfreezeConversationRequest, ctx: HandlerContext) {
    return this.moderation.unfreeze(callerOf(ctx), req.conversationId);
  }

  async blockUser(req: BlockUserRequest, ctx: HandlerContext) {
    return this.blocks.block(callerOf(ctx), req);
  }

  async unblockUser(req: UnblockUserRequest, ctx: HandlerContext) {
    return this.blocks.unblock(callerOf(ctx), req);
  }

  async listBlockedUsers(req: ListBlockedUsersRequest, ctx: HandlerContext) {
    return this.blocks.list(callerOf(ctx), req);
  }
}
