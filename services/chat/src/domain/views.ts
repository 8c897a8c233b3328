import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ConversationSchema, ConversationType, JoinPolicy, MessageSummarySchema, type Conversation } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MemberRole, MemberSchema, MemberState, type Member } from "@caas/gen/caas/chat/v1/member_pb.js";
import { ReadStateSchema, type ReadState } from "@caas/gen/caas/chat/v1/read_state_pb.js";
import type { ConversationKind, ConversationRecord, JoinPolicyKind } from "../ports/conversation-store.js";
import type { MemberRecord, RoleKind } from "../ports/member-store.js";
import type { ReadStateRecord } from "../ports/read-state-store.js";

const KIND_TO_TYPE: Record<ConversationKind, ConversationType> = {
  direct: ConversationType.DIRECT,
  group: ConversationType.GROUP,
  channel: ConversationType.CHANNEL,
};

const POLICY_TO_ENUM: Record<JoinPolicyKind, JoinPolicy> = {
  open: JoinPolicy.OPEN,
  invite_only: JoinPolicy.INVITE_ONLY,
  closed: JoinPolicy.CLOSED,
};

const ROLE_TO_ENUM: Record<RoleKind, MemberRole> = {
  owner: MemberRole.OWNER,
  admin: MemberRole.ADMIN,
  member: MemberRole.MEMBER,
};

/** The store's kind of a proto ConversationType (UNSPECIFIED: undefined). */
export function kindOf(type: ConversationType): ConversationKind | undefined {
  return (Object.keys(KIND_TO_TYPE) as ConversationKind[]).find((k) => KIND_TO_TYPE[k] === type);
}

/** The store's join policy of a proto JoinPolicy (UNSPECIFIED: undefined). */
export function policyOf(policy: JoinPolicy): JoinPolicyKind | undefined {
  return (Object.keys(POLICY_TO_ENUM) as JoinPolicyKind[]).find((k) => POLICY_TO_ENUM[k] === policy);
}

/** The store's role of a proto MemberRole (UNSPECIFIED: undefined). */
export function roleOf(role: MemberRole): RoleKind | undefined {
  return (Object.keys(ROLE_TO_ENUM) as RoleKind[]).find((k) => ROLE_TO_ENUM[k] === role);
}

export function roleEnum(role: RoleKind): MemberRole {
  return ROLE_TO_ENUM[role];
}

/**
 * The public form of a conversation. `head` overrides the projection's log position when the
 * caller read the log itself (it is never behind the projection); `memberCount` is counted by
 * the caller.
 */
export function conversationView(c: ConversationRecord, memberCount: number, head?: { seq: number }): Conversation {
  return create(ConversationSchema, {
    id: c.id,
    type: KIND_TO_TYPE[c.kind],
    title: c.title,
    avatarUrl: c.avatarUrl,
    ...(c.custom === undefined ? {} : { custom: c.custom }),
    createdBy: c.createdBy,
    createTime: timestampFromMs(c.createTimeMs),
    updateTime: timestampFromMs(c.updateTimeMs),
    archived: c.archived,
    frozen: c.frozen,
    lastSeq: BigInt(Math.max(c.lastSeq, head?.seq ?? 0)),
    ...(c.lastMessage
      ? {
          lastMessage: create(MessageSummarySchema, {
            messageId: c.lastMessage.messageId,
            seq: BigInt(c.lastMessage.seq),
            senderId: c.lastMessage.senderId,
            textPreview: c.lastMessage.textPreview,
            attachmentCount: c.lastMessage.attachmentCount,
            createTime: timestampFromMs(c.lastMessage.createTimeMs),
            deleted: c.lastMessage.deleted === true,
          }),
        }
      : {}),
    memberCount,
    joinPolicy: POLICY_TO_ENUM[c.joinPolicy],
    lastActivityTime: timestampFromMs(c.activityMs),
    endToEndEncrypted: c.e2ee === true,
  });
}

/** The public form of a membership (state ACTIVE: mutes and bans are kept by the moderation store, not here). */
export function memberView(m: Pick<MemberRecord, "conversationId" | "userId" | "role" | "joinedSeq" | "joinTimeMs">): Member {
  return create(MemberSchema, {
    conversationId: m.conversationId,
    userId: m.userId,
    role: ROLE_TO_ENUM[m.role],
    joinedSeq: BigInt(m.joinedSeq),
    joinTime: timestampFromMs(m.joinTimeMs),
    state: MemberState.ACTIVE,
  });
}

/**
 * The caller's read state in a conversation whose countable counter stands at `countableSeq`:
 * unread = that counter minus the counter at the read position (DESIGN "Unread"); `mentionCount`
 * comes from the mention records. What was read was delivered: the delivery marker shown is never
 * behind the read marker.
 */
export function readStateView(conversationId: string, userId: string, rs: ReadStateRecord | undefined, countableSeq: number, mentionCount = 0): ReadState {
  return create(ReadStateSchema, {
    conversationId,
    userId,
    lastReadSeq: BigInt(rs?.lastReadSeq ?? 0),
    lastDeliveredSeq: BigInt(Math.max(rs?.lastReadSeq ?? 0, rs?.lastDeliveredSeq ?? 0)),
    unreadCount: unreadCount(rs, countableSeq),
    mentionCount: Math.min(2_147_483_647, mentionCount),
    ...(rs ? { updateTime: timestampFromMs(rs.updateTimeMs) } : {}),
  });
}

/** Unread messages: never negative, capped to an int32. */
export function unreadCount(rs: ReadStateRecord | undefined, countableSeq: number): number {
  return Math.min(2_147_483_647, Math.max(0, countableSeq - (rs?.lastReadCountable ?? 0)));
}
