import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { ReadState, Receipt } from "@caas/gen/caas/chat/v1/read_state_pb.js";
import type { BlockChanged, PreKeysLow, Typing } from "@caas/gen/caas/realtime/v1/frame_pb.js";

/** A local session as the hub sees it: whose it is and how it takes a live event. */
export interface Recipient {
  readonly tenantId: string;
  readonly userId: string;
  deliver(event: Event): void;
  /** A typing indicator of another member of one of the user's conversations. */
  deliverTyping(typing: Typing): void;
  /** The user's own read state moved (on any of their devices). */
  deliverReadState?(state: ReadState): void;
  /** Another member's read or delivery marker moved in a conversation that shares receipts. */
  deliverReceipt?(receipt: Receipt): void;
  /** The user's own block list changed (on any of their devices). */
  deliverBlockChanged?(change: BlockChanged): void;
  /** One of the user's devices runs low on one-time prekeys in the key directory. */
  deliverPreKeysLow?(notice: PreKeysLow): void;
}

/** What the hub keeps of a conversation to decide whether receipts are shared. */
export interface ConversationFact {
  id: string;
  type: ConversationType;
  memberCount: number;
  /** The log head the count is as of (ListConversations' last_seq); older events do not change it. */
  lastSeq?: bigint;
}

/**
 * Receipts are shared in DIRECT conversations and in GROUPs of at most this many members
 * (chat_service.proto ListReadBy: not in CHANNELs, not in GROUPs over 100 members).
 */
export const RECEIPT_GROUP_LIMIT = 100;

/** One user with live sessions on this instance, and the conversations they belong to. */
interface LocalUser {
  tenantId: string;
  userId: string;
  sessions: Set<Recipient>;
  conversations: Set<string>;
  /** Settles when the membership list is loaded. */
  ready: Promise<void>;
  /** Conversations left while the list was loading (the list may predate the leave). */
  leftWhileLoading?: Set<string>;
}

/** A conversation with local members: who they are and the newest seq handed to them. */
interface LocalConversation {
  members: Set<LocalUser>;
  /**
   * Newest seq handed out (the bus delivers at least once): kept per conversation, not per member,
   * so a delivery costs no lookup per member, and a member who joined later is never handed a
   * redelivered event from before the join.
   */
  lastSeq: bigint;
}

const key = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

/**
 * The instance's fan-out index: which local users belong to which conversation. Membership is
 * loaded once per user when their first session authenticates and is then kept current from
 * the conversation events themselves, applied in the order the bus delivers them (per
 * conversation, in seq order): a joining member gets the join event and everything after it, a
 * leaving, removed or banned member gets that event and nothing after it. Single process.
 */
export class Hub {
  private readonly users = new Map<string, LocalUser>();
  private readonly conversations = new Map<string, LocalConversation>();
  /** Type and member count of the conversations that have local members (receipt sharing). */
  private readonly facts = new Map<string, { type: ConversationType; memberCount: number; seq: bigint }>();

  /**
   * Registers a session and resolves once its user's memberships are known; `load` lists them
   * (called only for the user's first session on this instance), as ids or with the type and
   * member count that decide receipt sharing. Rejects, with the session unregistered, when the
   * list cannot be loaded.
   */
  async join(session: Recipient, load: () => Promise<Array<string | ConversationFact>>): Promise<void> {
    const k = key(session.tenantId, session.userId);
    let user = this.users.get(k);
    if (!user) {
      const created: LocalUser = {
        tenantId: session.tenantId,
        userId: session.userId,
        sessions: new Set(),
        conversations: new Set(),
        ready: Promise.resolve(),
        leftWhileLoading: new Set(),
      };
      created.ready = load().then((list) => {
        for (const item of list) {
          const id = typeof item === "string" ? item : item.id;
          if (created.leftWhileLoading!.has(id)) continue;
          if (typeof item !== "string" && !this.facts.has(key(created.tenantId, id))) this.facts.set(key(created.tenantId, id), { type: item.type, memberCount: item.memberCount, seq: item.lastSeq ?? 0n });
          this.addMembership(created, id);
        }
        created.leftWhileLoading = undefined;
      });
      this.users.set(k, created);
      user = created;
    }
    user.sessions.add(session);
    try {
      await user.ready;
    } catch (err) {
      this.leave(session);
      if (this.users.get(k) === user) this.dropUser(user);
      throw err;
    }
  }

  /** Unregisters a session; the user's index entry goes with their last session. */
  leave(session: Recipient): void {
    const user = this.users.get(key(session.tenantId, session.userId));
    if (!user || !user.sessions.delete(session)) return;
    if (user.sessions.size === 0) this.dropUser(user);
  }

  /** Applies one committed conversation event of `tenantId`: membership first, then delivery. */
  dispatch(tenantId: string, event: Event): void {
    const { joined, left } = membershipChanges(event);
    this.updateFacts(tenantId, event, joined.length, left === "everyone" ? 0 : left.length);
    for (const userId of joined) {
      const user = this.users.get(key(tenantId, userId));
      if (user) this.addMembership(user, event.conversationId);
    }
    const convKey = key(tenantId, event.conversationId);
    const local = this.conversations.get(convKey);
    if (local && event.seq > local.lastSeq) {
      local.lastSeq = event.seq;
      for (const user of local.members) for (const session of user.sessions) session.deliver(event);
    }
    const leaving = left === "everyone" ? [...(local?.members ?? [])].map((u) => u.userId) : left;
    for (const userId of leaving) {
      const user = this.users.get(key(tenantId, userId));
      if (!user) continue;
      user.leftWhileLoading?.add(event.conversationId);
      this.removeMembership(user, event.conversationId);
    }
    if (!this.conversations.has(convKey)) this.facts.delete(convKey);
  }

  /** Whether `userId`, who has a session here, is a member of the conversation now. */
  isMember(tenantId: string, userId: string, conversationId: string): boolean {
    return this.users.get(key(tenantId, userId))?.conversations.has(conversationId) ?? false;
  }

  /** The conversations of `userId`, who has a session here. */
  conversationsOf(tenantId: string, userId: string): string[] {
    return [...(this.users.get(key(tenantId, userId))?.conversations ?? [])];
  }

  /** Every local session of every member of the conversation. */
  localMembers(tenantId: string, conversationId: string): Recipient[] {
    const local = this.conversations.get(key(tenantId, conversationId));
    return local ? [...local.members].flatMap((u) => [...u.sessions]) : [];
  }

  /** Every local session of `userId`. */
  sessionsOf(tenantId: string, userId: string): Recipient[] {
    return [...(this.users.get(key(tenantId, userId))?.sessions ?? [])];
  }

  /**
   * Whether members see each other's read and delivery markers in the conversation: DIRECT, or a
   * GROUP of at most RECEIPT_GROUP_LIMIT members. False when the conversation is unknown here.
   */
  receiptsShared(tenantId: string, conversationId: string): boolean {
    const fact = this.facts.get(key(tenantId, conversationId));
    if (!fact) return false;
    return fact.type === ConversationType.DIRECT || (fact.type === ConversationType.GROUP && fact.memberCount <= RECEIPT_GROUP_LIMIT);
  }

  /**
   * The newest seq of the conversation this instance has handed to its local members (or the
   * log head when the membership list was loaded); undefined when no local user belongs to it.
   */
  headSeq(tenantId: string, conversationId: string): bigint | undefined {
    return this.facts.get(key(tenantId, conversationId))?.seq;
  }

  /** Local sessions and users (for status and tests). */
  stats(): { users: number; conversations: number } {
    return { users: this.users.size, conversations: this.conversations.size };
  }

  private addMembership(user: LocalUser, conversationId: string): void {
    user.conversations.add(conversationId);
    user.leftWhileLoading?.delete(conversationId);
    const k = key(user.tenantId, conversationId);
    let local = this.conversations.get(k);
    if (!local) this.conversations.set(k, (local = { members: new Set(), lastSeq: 0n }));
    local.members.add(user);
  }

  private removeMembership(user: LocalUser, conversationId: string): void {
    user.conversations.delete(conversationId);
    const k = key(user.tenantId, conversationId);
    const local = this.conversations.get(k);
    if (!local) return;
    local.members.delete(user);
    if (local.members.size === 0) {
      this.conversations.delete(k);
      this.facts.delete(k);
    }
  }

  /** Keeps type and member count current from the log (only for conversations known here). */
  private updateFacts(tenantId: string, event: Event, joined: number, left: number): void {
    const k = key(tenantId, event.conversationId);
    const p = event.payload;
    if (p.case === "conversationCreated") {
      if ((this.facts.get(k)?.seq ?? 0n) >= event.seq) return;
      this.facts.set(k, { type: p.value.conversation?.type ?? ConversationType.UNSPECIFIED, memberCount: p.value.members.length, seq: event.seq });
      return;
    }
    const fact = this.facts.get(k);
    if (!fact || event.seq <= fact.seq) return;
    fact.seq = event.seq;
    fact.memberCount = Math.max(0, fact.memberCount + joined - left);
  }

  private dropUser(user: LocalUser): void {
    for (const id of [...user.conversations]) this.removeMembership(user, id);
    this.users.delete(key(user.tenantId, user.userId));
  }
}

/** Who an event adds to or removes from its conversation. */
export function membershipChanges(event: Event): { joined: string[]; left: string[] | "everyone" } {
  const p = event.payload;
  switch (p.case) {
    case "conversationCreated":
      return { joined: p.value.members.map((m) => m.userId), left: [] };
    case "memberJoined":
      return { joined: p.value.member ? [p.value.member.userId] : [], left: [] };
    case "memberLeft":
    case "memberRemoved":
    case "memberBanned":
      return { joined: [], left: [p.value.userId] };
    case "conversationDeleted":
      return { joined: [], left: "everyone" };
    default:
      return { joined: [], left: [] };
  }
}
