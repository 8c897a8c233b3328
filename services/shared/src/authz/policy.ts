/*
 * The ABAC policy engine (DESIGN "Authorization", ADR 0020): one pure function from a subject, an
 * action and the resource's attributes to a decision. Callers read the attributes from the store
 * of record (never a cache) on the write path; the engine does no I/O.
 */

/** Every action the engine decides; a closed set so a typo is a compile error. */
export const ACTIONS = [
  "conversation.read",
  "conversation.update",
  "conversation.archive",
  "conversation.delete",
  "conversation.freeze",
  "member.add",
  "member.invite",
  "member.join",
  "member.remove",
  "member.role.change",
  "member.mute",
  "member.ban",
  "member.list.bans",
  "invite.revoke",
  "message.send",
  "message.edit",
  "message.react",
  "message.pin",
  "message.delete",
  "message.delete.any",
] as const;

export type Action = (typeof ACTIONS)[number];

/** A member's role within one conversation. */
export type ConversationRole = "owner" | "admin" | "member";

/** Who acts: from the verified principal only. */
export interface Subject {
  tenantId: string;
  userId: string;
  /** Tenant roles from the access token ("admin", "moderator", "user", or tenant-defined ones). */
  tenantRoles: readonly string[];
}

/** What the engine knows of the resource, read from the store of record by the caller. */
export interface ResourceAttributes {
  conversationKind: "direct" | "group" | "channel";
  joinPolicy?: "open" | "invite_only" | "closed";
  /** The caller's role as an active member; unset for non-members (and banned users). */
  role?: ConversationRole;
  /** The caller owns the resource: the sender of the message, the creator of the invite. */
  isOwner?: boolean;
  /** The role of the member acted on (remove, role change, mute, ban); unset for a non-member. */
  targetRole?: ConversationRole;
  /** The role being granted (member.add, member.role.change). */
  newRole?: ConversationRole;
  callerMuted?: boolean;
  callerBanned?: boolean;
  frozen?: boolean;
  archived?: boolean;
  /** The caller holds a valid invite (member.join through AcceptInvite). */
  invited?: boolean;
  /** DIRECT conversations: either user blocked the other. */
  blocked?: boolean;
}

/** Why an action is refused, as the gRPC code the caller gets. */
export type DenyCode = "not_found" | "permission_denied" | "failed_precondition";

/** `reason` is the error message; for `not_found` it names what is not found ("conversation"). */
export type Decision = { allow: true } | { allow: false; code: DenyCode; reason: string };

/**
 * Which actions each tenant role gets on every conversation of its tenant, on top of what the
 * conversation role gives. Tenants extend it with grants (`withGrants`).
 */
export interface AuthzPolicy {
  tenantGrants: Readonly<Record<string, readonly Action[]>>;
}

/** The moderation actions a tenant moderator takes anywhere in the tenant. */
export const MODERATION_ACTIONS: readonly Action[] = ["conversation.freeze", "member.mute", "member.ban", "member.list.bans", "message.delete.any"];

/** Defaults: tenant admins and moderators moderate any conversation; users get what their conversation role gives. */
export const DEFAULT_POLICY: AuthzPolicy = {
  tenantGrants: { admin: MODERATION_ACTIONS, moderator: MODERATION_ACTIONS, user: [] },
};

/** One extra grant of a tenant: `role` gets `actions` in every conversation of the tenant. */
export interface RoleGrant {
  role: string;
  actions: readonly string[];
}

/** Whether a string names an action (grants come from stored settings). */
export function isAction(name: string): name is Action {
  return (ACTIONS as readonly string[]).includes(name);
}

/** The policy with a tenant's grants added to it (unknown action names are ignored). */
export function withGrants(base: AuthzPolicy, grants: readonly RoleGrant[]): AuthzPolicy {
  const out: Record<string, Action[]> = {};
  for (const [role, actions] of Object.entries(base.tenantGrants)) out[role] = [...actions];
  for (const g of grants) out[g.role] = [...new Set([...(out[g.role] ?? []), ...g.actions.filter(isAction)])];
  return { tenantGrants: out };
}

/** The subject's tenant roles grant `action` in every conversation of the tenant. */
export function tenantGrants(subject: Subject, action: Action, policy: AuthzPolicy = DEFAULT_POLICY): boolean {
  return subject.tenantRoles.some((r) => policy.tenantGrants[r]?.includes(action) ?? false);
}

const ALLOW: Decision = { allow: true };
const deny = (code: DenyCode, reason: string): Decision => ({ allow: false, code, reason });
const moderator = (role: ConversationRole | undefined) => role === "owner" || role === "admin";

/**
 * Decides whether `subject` may take `action` on a resource with these attributes. The checks run
 * in one order for every action: visibility (NOT_FOUND: the caller may not even see it), the
 * right (PERMISSION_DENIED), the caller's moderation state (PERMISSION_DENIED), then the
 * conversation's state (FAILED_PRECONDITION: archived, frozen).
 */
export function authorize(subject: Subject, action: Action, r: ResourceAttributes, policy: AuthzPolicy = DEFAULT_POLICY): Decision {
  const granted = tenantGrants(subject, action, policy) || (action === "message.delete" && tenantGrants(subject, "message.delete.any", policy));
  const member = r.role !== undefined;
  // Visibility: members see their conversations, anyone OPEN ones; a tenant grant of the action
  // makes every conversation of the tenant visible for that action.
  const openTo = r.joinPolicy === "open" && (action === "conversation.read" || action === "member.join");
  if (!member && !granted && !openTo && !(r.invited && action === "member.join")) {
    return deny("not_found", "conversation");
  }
  const right = rightOf(action, r, granted);
  if (right) return right;
  if (r.callerMuted && (action === "message.send" || action === "message.edit" || action === "message.react")) {
    return deny("permission_denied", "you are muted in this conversation");
  }
  if (r.callerBanned && action === "member.join") return deny("permission_denied", "you are banned from this conversation");
  if (r.blocked && action === "message.send") return deny("permission_denied", "one of you blocked the other");
  if (WRITES.has(action)) {
    if (r.archived) return deny("failed_precondition", "the conversation is archived");
    const exempt = moderator(r.role) || tenantGrants(subject, "conversation.freeze", policy);
    if (r.frozen && !exempt) return deny("failed_precondition", "the conversation is frozen: only moderators may write");
  }
  return ALLOW;
}

/** Actions refused in archived and (for non-moderators) frozen conversations. */
const WRITES: ReadonlySet<Action> = new Set<Action>(["message.send", "message.edit", "message.react", "message.pin"]);

/** The role-based part of a decision: undefined when the right is there. */
function rightOf(action: Action, r: ResourceAttributes, granted: boolean): Decision | undefined {
  const role = r.role;
  const pd = (reason: string) => deny("permission_denied", reason);
  if ((action === "member.mute" || action === "member.ban") && r.targetRole === "owner") return pd(`owners cannot be ${action === "member.mute" ? "muted" : "banned"}`);
  // A tenant grant gives the right in every conversation of the tenant.
  if (granted) return undefined;
  switch (action) {
    case "conversation.read":
    case "member.join":
    case "message.react":
      return undefined;
    case "conversation.update":
    case "conversation.archive":
      return moderator(role) ? undefined : pd("only owners and admins change a conversation");
    case "conversation.delete":
      return role === "owner" ? undefined : pd("only owners delete a conversation");
    case "conversation.freeze":
      return moderator(role) ? undefined : pd("only owners and admins freeze a conversation");
    case "member.list.bans":
      return moderator(role) ? undefined : pd("only owners and admins list bans");
    case "member.add":
    case "member.invite": {
      if (!(moderator(role) || r.joinPolicy === "open")) return pd(`only owners and admins ${action === "member.add" ? "add members to" : "invite to"} this conversation`);
      return (r.newRole ?? "member") === "member" || role === "owner" ? undefined : pd("only owners add admins");
    }
    case "member.remove":
      return role === "owner" || (role === "admin" && r.targetRole === "member") ? undefined : pd("owners remove anyone; admins remove members only");
    case "member.role.change":
      return role === "owner" || (role === "admin" && r.targetRole === "member" && r.newRole === "admin") ? undefined : pd("owners change roles; admins only make members admins");
    case "member.mute":
    case "member.ban": {
      const verb = action === "member.mute" ? "mute" : "ban";
      const target = r.targetRole ?? "member";
      if (role === "owner" || (role === "admin" && target === "member")) return undefined;
      return pd(`only owners and admins ${verb} members; only owners ${verb} admins`);
    }
    case "invite.revoke":
      return moderator(role) || r.isOwner ? undefined : pd("only owners, admins and its creator revoke an invite");
    case "message.send":
      return r.conversationKind !== "channel" || moderator(role) ? undefined : pd("only owners and admins post in a CHANNEL");
    case "message.edit":
      return r.isOwner ? undefined : pd("only the sender edits a message");
    case "message.pin":
      return r.conversationKind === "direct" || moderator(role) ? undefined : pd("only owners and admins pin messages");
    case "message.delete":
      return r.isOwner || moderator(role) ? undefined : pd("only the sender, owners and admins delete a message");
    case "message.delete.any":
      return moderator(role) ? undefined : pd("only owners and admins delete others' messages");
  }
}

/**
 * Where a service gets a tenant's policy (defaults plus the tenant's grants). Read paths may
 * cache it; a lookup must be invalidated by the event that changes the tenant's grants.
 */
export type TenantPolicyLookup = (tenantId: string) => AuthzPolicy | Promise<AuthzPolicy>;

/** The lookup of a deployment without per-tenant grants: the defaults for everyone. */
export const defaultPolicyLookup: TenantPolicyLookup = () => DEFAULT_POLICY;
