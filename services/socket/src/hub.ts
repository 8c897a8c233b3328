import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { ReadState, Receipt } from "@caas/gen/caas/chat/v1/read_state_pb.js";
import type { BlockChanged, KeysChanged, PreKeysLow, Typing } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import type { Clock } from "@caas/shared/clock";
import { Lingering } from "./lingering.js";

/** A local session as the hub sees it: whose it is and how it takes a live event. */
export interface Recipient {
  readonly tenantId: string;
  readonly userId: string;
  /** The user's access token, for reading the log on the members' behalf (filling a hole). */
  readonly accessToken?: string;
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
  /** A user sharing a conversation with this one (or this user) changed their device list. */
  deliverKeysChanged?(notice: KeysChanged): void;
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
  /** Settles when the membership list is loaded; dropped once it is (memory per idle connection). */
  ready?: Promise<void>;
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
  /**
   * How far this instance's live path has followed the log: the newest seq dispatched, or the log
   * head the membership list reported (events up to it are a resume's business). Undefined until
   * either is known (a conversation joined through its own event starts at that event).
   */
  head?: bigint;
  /** The newest stretch of seqs the live path skipped (a gap SeqOrder gave up on, a late consumer). */
  hole?: LiveHole;
  /** Holes seen and not yet filled from the log (see `fill`). */
  unfilled: number;
}

/** Called when the live path skips seqs `from`..`to` of a conversation that has local members. */
export type HoleListener = (tenantId: string, conversationId: string, from: bigint, to: bigint) => void;

/**
 * Seqs of a conversation the live path went past without handing them out: every seq up to `to`
 * not dispatched before `epoch` may be missing on the connections that were open then.
 */
export interface LiveHole {
  /** The hub's epoch when the hole was seen; connections anchored at or after it are not affected. */
  epoch: number;
  /** The highest skipped seq. */
  to: bigint;
}

/** What the live path has handed out of one conversation, for deciding what a cursor may cover. */
export interface LiveCoverage {
  head: bigint;
  hole?: LiveHole;
}

const key = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

/**
 * How long the index keeps a user whose last session left (their memberships kept current from
 * the events meanwhile, as while connected), so that a reconnect within that time needs no
 * membership list from chat; and how many such users at most (the oldest go first).
 */
export interface MembershipLinger {
  ms: number;
  maxUsers: number;
  clock: Clock;
}

/**
 * The instance's fan-out index: which local users belong to which conversation. Membership is
 * loaded once per user when their first session authenticates and is then kept current from
 * the conversation events themselves, applied in the order the bus delivers them (per
 * conversation, in seq order): a joining member gets the join event and everything after it, a
 * leaving, removed or banned member gets that event and nothing after it. Single process.
 */
export class Hub {
  /** Users without a session, kept for a reconnect (see MembershipLinger). */
  private readonly lingering?: Lingering<LocalUser>;

  /**
   * `onHole`: the live path skipped seqs of a conversation with local members (e.g. a HoleFiller).
   * `linger`: keep a user's index entry for a while after their last session left (none: dropped at once).
   */
  constructor(
    private readonly onHole?: HoleListener,
    linger?: MembershipLinger,
  ) {
    if (linger && linger.ms > 0 && linger.maxUsers > 0) this.lingering = new Lingering(linger.ms, linger.maxUsers, linger.clock, (user) => this.dropIfIdle(user));
  }

  private readonly users = new Map<string, LocalUser>();
  private readonly conversations = new Map<string, LocalConversation>();
  /** Type and member count of the conversations that have local members (receipt sharing). */
  private readonly facts = new Map<string, { type: ConversationType; memberCount: number; seq: bigint }>();
  /** Counts holes seen; a connection remembers it when it anchors (opens or resumes). */
  private holes = 0;

  /**
   * Registers a session and resolves once its user's memberships are known; `load` lists them
   * (called only for the user's first session on this instance), as ids or with the type and
   * member count that decide receipt sharing. Rejects, with the session unregistered, when the
   * list cannot be loaded.
   */
  async join(session: Recipient, load: () => Promise<Array<string | ConversationFact>>): Promise<void> {
    const k = key(session.tenantId, session.userId);
    let user = this.users.get(k);
    // A user without sessions lingers: within its time the index is current (events kept it so), after it, load again.
    if (user && user.sessions.size === 0 && !this.lingering?.take(user)) {
      this.dropIfIdle(user);
      user = this.users.get(k);
    }
    if (!user) {
      const created: LocalUser = {
        tenantId: session.tenantId,
        userId: session.userId,
        sessions: new Set(),
        conversations: new Set(),
        leftWhileLoading: new Set(),
      };
      created.ready = load().then((list) => {
        for (const item of list) {
          const id = typeof item === "string" ? item : item.id;
          if (created.leftWhileLoading!.has(id)) continue;
          if (typeof item !== "string" && !this.facts.has(key(created.tenantId, id)))
            this.facts.set(key(created.tenantId, id), { type: item.type, memberCount: item.memberCount, seq: item.lastSeq ?? 0n });
          this.addMembership(created, id, typeof item === "string" ? undefined : item.lastSeq);
        }
        created.leftWhileLoading = undefined;
        created.ready = undefined;
      });
      this.users.set(k, created);
      user = created;
    }
    user.sessions.add(session);
    try {
      if (user.ready) await user.ready;
    } catch (err) {
      this.leave(session);
      if (this.users.get(k) === user) this.dropUser(user);
      throw err;
    }
  }

  /** Unregisters a session; the user's index entry goes with their last session (or lingers, see MembershipLinger). */
  leave(session: Recipient): void {
    const user = this.users.get(key(session.tenantId, session.userId));
    if (!user || !user.sessions.delete(session) || user.sessions.size > 0) return;
    if (this.lingering) this.lingering.add(user);
    else this.dropUser(user);
  }

  /** Applies one committed conversation event of `tenantId`: membership first, then delivery. */
  dispatch(tenantId: string, event: Event): void {
    this.apply(tenantId, event);
  }

  /**
   * Hands out events the live path skipped (read from the log after a hole, in seq order) to the
   * conversation's current local members. Their membership changes are not applied: the index
   * already follows the events dispatched after them, and a late leave or join would undo a
   * later one. Once every hole of the conversation seen so far was filled, cursors may cover it
   * again for every connection; not when the filled stretch changed membership, since whoever
   * left or joined in it may be owed events the current members' delivery did not reach.
   */
  fill(tenantId: string, conversationId: string, events: Event[]): void {
    let changesMembership = false;
    for (const e of events) {
      if (e.conversationId !== conversationId) continue;
      const { joined, left } = membershipChanges(e);
      changesMembership ||= joined.length > 0 || left === "everyone" || left.length > 0;
      this.deliverLate(tenantId, e);
    }
    const local = this.conversations.get(key(tenantId, conversationId));
    if (!local || local.unfilled === 0 || changesMembership) return;
    local.unfilled--;
    if (local.unfilled === 0) local.hole = undefined;
  }

  private deliverLate(tenantId: string, event: Event): void {
    const local = this.conversations.get(key(tenantId, event.conversationId));
    if (!local) return;
    if (event.seq > local.lastSeq) local.lastSeq = event.seq;
    for (const user of local.members) for (const session of user.sessions) session.deliver(event);
  }

  private apply(tenantId: string, event: Event): void {
    const { joined, left } = membershipChanges(event);
    this.updateFacts(tenantId, event, joined.length, left === "everyone" ? 0 : left.length);
    for (const userId of joined) {
      const user = this.users.get(key(tenantId, userId));
      if (user) this.addMembership(user, event.conversationId);
    }
    const convKey = key(tenantId, event.conversationId);
    const local = this.conversations.get(convKey);
    if (local) this.follow(tenantId, event.conversationId, local, event.seq);
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
   * The newest seq of the conversation this instance has dispatched (or the log head when the
   * membership list was loaded), with the newest stretch its live path skipped; undefined when no
   * local user belongs to it or nothing is known of it yet.
   */
  coverage(tenantId: string, conversationId: string): LiveCoverage | undefined {
    const local = this.conversations.get(key(tenantId, conversationId));
    if (local?.head === undefined) return undefined;
    return local.hole ? { head: local.head, hole: local.hole } : { head: local.head };
  }

  /**
   * The current epoch: a connection that anchors now (opens without a cursor, or starts a
   * resume's catch-up) is not affected by holes seen before it, because the catch-up reads the
   * log after them.
   */
  get epoch(): number {
    return this.holes;
  }

  /** Local users (with those lingering without a session) and their conversations (for status and tests). */
  stats(): { users: number; lingering: number; conversations: number } {
    return { users: this.users.size, lingering: this.lingering?.size ?? 0, conversations: this.conversations.size };
  }

  /** `head`: the log head the membership list reported, when it came from one. */
  private addMembership(user: LocalUser, conversationId: string, head?: bigint): void {
    user.conversations.add(conversationId);
    user.leftWhileLoading?.delete(conversationId);
    const k = key(user.tenantId, conversationId);
    let local = this.conversations.get(k);
    if (!local) this.conversations.set(k, (local = { members: new Set(), lastSeq: 0n, unfilled: 0, ...(head === undefined || head < 1n ? {} : { head }) }));
    local.members.add(user);
  }

  /**
   * Moves the live path's position: an event past the next expected seq means the seqs between
   * were not handed out here (SeqOrder gave up waiting, or the bus consumer started or resumed
   * past them), which is recorded as a hole so no cursor covers them for connections open now.
   */
  private follow(tenantId: string, conversationId: string, local: LocalConversation, seq: bigint): void {
    if (local.head === undefined) {
      local.head = seq;
      return;
    }
    if (seq <= local.head) return;
    const from = local.head + 1n;
    local.head = seq;
    if (seq === from) return;
    local.hole = { epoch: ++this.holes, to: seq - 1n };
    local.unfilled++;
    this.onHole?.(tenantId, conversationId, from, seq - 1n);
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
    this.lingering?.forget(user);
    for (const id of [...user.conversations]) this.removeMembership(user, id);
    this.users.delete(key(user.tenantId, user.userId));
  }

  /** A lingering user's time ran out: dropped unless a session came back (or another entry replaced it). */
  private dropIfIdle(user: LocalUser): void {
    if (user.sessions.size === 0 && this.users.get(key(user.tenantId, user.userId)) === user) this.dropUser(user);
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
