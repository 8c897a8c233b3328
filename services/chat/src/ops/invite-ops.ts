import { createHash, randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AcceptInviteResponseSchema,
  CreateInviteResponseSchema,
  RevokeInviteResponseSchema,
  type AcceptInviteRequest,
  type AcceptInviteResponse,
  type CreateInviteRequest,
  type CreateInviteResponse,
  type RevokeInviteRequest,
  type RevokeInviteResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { InviteSchema, type Invite } from "@caas/gen/caas/chat/v1/invite_pb.js";
import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import { newId } from "@caas/shared/ids";
import type { Caller, ChatCore } from "../core.js";
import { checkUuid, invalid } from "../domain/input.js";
import { authorizeAction, conversationAttrs, restrictionOf } from "./authorize.js";
import { memberView } from "../domain/views.js";
import type { InviteRecord } from "../ports/invite-store.js";
import type { ConversationOps } from "./conversation-ops.js";
import type { MemberOps } from "./member-ops.js";

const DAY_MS = 24 * 3600 * 1000;
/** An invite's lifetime when the request gives none. */
const DEFAULT_TTL_MS = 7 * DAY_MS;
const MAX_TTL_MS = 30 * DAY_MS;
const MAX_USES = 100_000;
const CODE = /^[A-Za-z0-9_-]{16,64}$/;

/** The stored form of a code: its SHA-256 (codes carry 192 random bits, so no salt is needed). */
function codeHash(code: string): string {
  return createHash("sha256").update(code).digest("base64url");
}

/**
 * CreateInvite, AcceptInvite, RevokeInvite. Invites are not log events; joining through one
 * appends MemberJoined with its invite_id. The code is shown once, to its creator; only its hash
 * is stored.
 */
export class InviteOps {
  constructor(
    private readonly core: ChatCore,
    private readonly conversations: ConversationOps,
    private readonly members: MemberOps,
  ) {}

  /** Owners and admins invite; any member of an OPEN conversation too. */
  async create(caller: Caller, req: CreateInviteRequest): Promise<CreateInviteResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const ttlMs = req.ttl ? Number(req.ttl.seconds) * 1000 + Math.floor(req.ttl.nanos / 1e6) : 0;
    if (ttlMs < 0 || ttlMs > MAX_TTL_MS) throw invalid("ttl", "between 0 and 30 days");
    if (!Number.isInteger(req.maxUses) || req.maxUses < 0 || req.maxUses > MAX_USES) throw invalid("max_uses", `between 0 and ${MAX_USES}`);
    const { conversation, member } = await this.core.requireMember(caller, conversationId);
    if (conversation.kind === "direct") throw new FailedPreconditionError("DIRECT conversations take no invites");
    await authorizeAction(this.core, caller, "member.invite", conversationAttrs(conversation, member));
    if (conversation.archived) throw new FailedPreconditionError("the conversation is archived");
    const now = this.core.clock.nowMs();
    const code = randomBytes(24).toString("base64url");
    const record: InviteRecord = {
      id: newId(),
      conversationId,
      codeHash: codeHash(code),
      createdBy: caller.userId,
      createTimeMs: now,
      expireTimeMs: now + (ttlMs === 0 ? DEFAULT_TTL_MS : ttlMs),
      maxUses: req.maxUses,
      revokeTimeMs: 0,
    };
    await this.core.stores.invites.create(caller.scope, record);
    return create(CreateInviteResponseSchema, { invite: inviteView(record, 0, code) });
  }

  /**
   * Joins the invite's conversation as MEMBER; idempotent for members (no use is taken).
   * NOT_FOUND for unknown, expired or revoked codes and for codes of other tenants.
   */
  async accept(caller: Caller, req: AcceptInviteRequest): Promise<AcceptInviteResponse> {
    if (!CODE.test(req.code)) throw invalid("code", "must match ^[A-Za-z0-9_-]{16,64}$");
    const { stores, clock, limits } = this.core;
    const invite = await stores.invites.byCodeHash(caller.scope, codeHash(req.code));
    const now = clock.nowMs();
    if (!invite || invite.revokeTimeMs !== 0 || invite.expireTimeMs <= now) throw new NotFoundError("invite");
    const id = invite.conversationId;
    const [conversation, prior] = await Promise.all([stores.conversations.get(caller.scope, id), stores.members.get(caller.scope, id, caller.userId)]);
    if (!conversation || conversation.deletedSeq > 0) throw new NotFoundError("invite");
    let row = prior?.active ? prior : undefined;
    if (!row) {
      // Banned users cannot come back through an invite (ABAC engine, ban read from the store of record).
      const banned = await restrictionOf(this.core, caller, id, caller.userId, "ban");
      await authorizeAction(this.core, caller, "member.join", { ...conversationAttrs(conversation, undefined), invited: true, callerBanned: banned !== undefined });
      if (conversation.archived) throw new FailedPreconditionError("the conversation is archived");
      if ((await stores.members.count(caller.scope, id)) + 1 > limits.maxMembers) throw new FailedPreconditionError(`a conversation has at most ${limits.maxMembers} members`);
      if ((await stores.invites.claim(caller.scope, invite, caller.userId, now)) === "exhausted") throw new FailedPreconditionError("the invite has no uses left");
      row = await this.members.admit(caller, id, caller.userId, "member", prior, invite.id);
    }
    const view = await this.conversations.view(caller, id);
    return create(AcceptInviteResponseSchema, { conversation: view.conversation, member: memberView(row) });
  }

  /** Revokes (owners, admins and the invite's creator); idempotent. The code is not shown again. */
  async revoke(caller: Caller, req: RevokeInviteRequest): Promise<RevokeInviteResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const inviteId = checkUuid("invite_id", req.inviteId);
    const { conversation, member } = await this.core.requireMember(caller, conversationId);
    const { invites } = this.core.stores;
    const invite = await invites.get(caller.scope, inviteId);
    if (!invite || invite.conversationId !== conversationId) throw new NotFoundError("invite");
    await authorizeAction(this.core, caller, "invite.revoke", { ...conversationAttrs(conversation, member), isOwner: invite.createdBy === caller.userId });
    const revoked = (await invites.revoke(caller.scope, inviteId, this.core.clock.nowMs())) ?? invite;
    return create(RevokeInviteResponseSchema, { invite: inviteView(revoked, await invites.useCount(caller.scope, inviteId)) });
  }
}

function inviteView(i: InviteRecord, useCount: number, code = ""): Invite {
  return create(InviteSchema, {
    id: i.id,
    conversationId: i.conversationId,
    code,
    createdBy: i.createdBy,
    createTime: timestampFromMs(i.createTimeMs),
    expireTime: timestampFromMs(i.expireTimeMs),
    maxUses: i.maxUses,
    useCount,
    ...(i.revokeTimeMs ? { revokeTime: timestampFromMs(i.revokeTimeMs) } : {}),
  });
}
