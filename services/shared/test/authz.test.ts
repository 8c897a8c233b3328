import { describe, expect, it } from "vitest";
import { ACTIONS, authorize, DEFAULT_POLICY, withGrants, type Action, type ConversationRole, type DenyCode, type ResourceAttributes, type Subject } from "@caas/shared/identity/policy";
import { enforce } from "@caas/shared/identity/enforce";
import { FailedPreconditionError, NotFoundError, PermissionDeniedError } from "@caas/shared/errors";

const user: Subject = { tenantId: "t1", userId: "u1", tenantRoles: ["user"] };
const moderator: Subject = { ...user, tenantRoles: ["moderator"] };
const admin: Subject = { ...user, tenantRoles: ["admin"] };

type Outcome = "allow" | DenyCode;
const outcome = (s: Subject, a: Action, r: ResourceAttributes, policy = DEFAULT_POLICY): Outcome => {
  const d = authorize(s, a, r, policy);
  return d.allow ? "allow" : d.code;
};

const group = (role: ConversationRole | undefined, more: Partial<ResourceAttributes> = {}): ResourceAttributes => ({
  conversationKind: "group",
  joinPolicy: "invite_only",
  ...(role ? { role } : {}),
  ...more,
});

describe("ABAC engine: conversation roles (a table over actions x roles)", () => {
  // [action, extra attributes, owner, admin, member, non-member]
  const table: [Action, Partial<ResourceAttributes>, Outcome, Outcome, Outcome, Outcome][] = [
    ["conversation.read", {}, "allow", "allow", "allow", "not_found"],
    ["conversation.read", { joinPolicy: "open" }, "allow", "allow", "allow", "allow"],
    ["conversation.update", {}, "allow", "allow", "permission_denied", "not_found"],
    ["conversation.archive", {}, "allow", "allow", "permission_denied", "not_found"],
    ["conversation.delete", {}, "allow", "permission_denied", "permission_denied", "not_found"],
    ["conversation.freeze", {}, "allow", "allow", "permission_denied", "not_found"],
    ["member.add", { newRole: "member" }, "allow", "allow", "permission_denied", "not_found"],
    ["member.add", { newRole: "member", joinPolicy: "open" }, "allow", "allow", "allow", "not_found"],
    ["member.add", { newRole: "admin" }, "allow", "permission_denied", "permission_denied", "not_found"],
    ["member.invite", {}, "allow", "allow", "permission_denied", "not_found"],
    ["member.remove", { targetRole: "member" }, "allow", "allow", "permission_denied", "not_found"],
    ["member.remove", { targetRole: "admin" }, "allow", "permission_denied", "permission_denied", "not_found"],
    ["member.remove", { targetRole: "owner" }, "allow", "permission_denied", "permission_denied", "not_found"],
    ["member.role.change", { targetRole: "member", newRole: "admin" }, "allow", "allow", "permission_denied", "not_found"],
    ["member.role.change", { targetRole: "admin", newRole: "member" }, "allow", "permission_denied", "permission_denied", "not_found"],
    ["member.mute", { targetRole: "member" }, "allow", "allow", "permission_denied", "not_found"],
    ["member.mute", { targetRole: "admin" }, "allow", "permission_denied", "permission_denied", "not_found"],
    ["member.mute", { targetRole: "owner" }, "permission_denied", "permission_denied", "permission_denied", "not_found"],
    ["member.ban", {}, "allow", "allow", "permission_denied", "not_found"],
    ["member.ban", { targetRole: "admin" }, "allow", "permission_denied", "permission_denied", "not_found"],
    ["member.list.bans", {}, "allow", "allow", "permission_denied", "not_found"],
    ["invite.revoke", {}, "allow", "allow", "permission_denied", "not_found"],
    ["invite.revoke", { isOwner: true }, "allow", "allow", "allow", "not_found"],
    ["message.send", {}, "allow", "allow", "allow", "not_found"],
    ["message.send", { conversationKind: "channel" }, "allow", "allow", "permission_denied", "not_found"],
    ["message.edit", { isOwner: true }, "allow", "allow", "allow", "not_found"],
    ["message.edit", {}, "permission_denied", "permission_denied", "permission_denied", "not_found"],
    ["message.react", {}, "allow", "allow", "allow", "not_found"],
    ["message.pin", {}, "allow", "allow", "permission_denied", "not_found"],
    ["message.pin", { conversationKind: "direct" }, "allow", "allow", "allow", "not_found"],
    ["message.delete", {}, "allow", "allow", "permission_denied", "not_found"],
    ["message.delete", { isOwner: true }, "allow", "allow", "allow", "not_found"],
    ["message.delete.any", {}, "allow", "allow", "permission_denied", "not_found"],
  ];
  it.each(table)("%s %o: owner %s, admin %s, member %s, non-member %s", (action, more, o, a, m, none) => {
    expect([
      outcome(user, action, group("owner", more)),
      outcome(user, action, group("admin", more)),
      outcome(user, action, group("member", more)),
      outcome(user, action, group(undefined, more)),
    ]).toEqual([o, a, m, none]);
  });

  it("covers every action in the table", () => {
    expect(new Set(table.map((r) => r[0]))).toEqual(new Set(ACTIONS.filter((a) => a !== "member.join")));
  });
});

describe("ABAC engine: moderation states", () => {
  const writes: Action[] = ["message.send", "message.react", "message.pin"];

  it("refuses writes in a frozen conversation with FAILED_PRECONDITION, except for owners, admins and tenant moderators", () => {
    for (const a of writes) {
      expect(outcome(user, a, group("member", { frozen: true, conversationKind: "direct" }))).toBe("failed_precondition");
      expect(outcome(user, a, group("admin", { frozen: true }))).toBe("allow");
      expect(outcome(user, a, group("owner", { frozen: true }))).toBe("allow");
      expect(outcome(moderator, a, group("member", { frozen: true, conversationKind: "direct" }))).toBe("allow");
    }
    expect(outcome(user, "message.edit", group("member", { frozen: true, isOwner: true }))).toBe("failed_precondition");
    expect(authorize(user, "message.send", group("member", { frozen: true }))).toMatchObject({ reason: expect.stringMatching(/frozen/) });
    // Reading and leaving stay possible.
    expect(outcome(user, "conversation.read", group("member", { frozen: true }))).toBe("allow");
  });

  it("refuses archived conversations to everyone", () => {
    for (const a of writes) expect(outcome(user, a, group("owner", { archived: true, conversationKind: "direct" }))).toBe("failed_precondition");
  });

  it("keeps muted members from sending, editing and reacting (PERMISSION_DENIED), not from reading", () => {
    for (const a of ["message.send", "message.react"] as Action[]) expect(outcome(user, a, group("member", { callerMuted: true }))).toBe("permission_denied");
    expect(outcome(user, "message.edit", group("member", { callerMuted: true, isOwner: true }))).toBe("permission_denied");
    expect(outcome(user, "conversation.read", group("member", { callerMuted: true }))).toBe("allow");
    expect(outcome(user, "message.delete", group("member", { callerMuted: true, isOwner: true }))).toBe("allow");
  });

  it("keeps banned users out (PERMISSION_DENIED on joining an OPEN conversation or through an invite; NOT_FOUND otherwise)", () => {
    expect(outcome(user, "member.join", group(undefined, { joinPolicy: "open", callerBanned: true }))).toBe("permission_denied");
    expect(outcome(user, "member.join", group(undefined, { invited: true, callerBanned: true }))).toBe("permission_denied");
    expect(outcome(user, "member.join", group(undefined, { joinPolicy: "open" }))).toBe("allow");
    expect(outcome(user, "member.join", group(undefined, { callerBanned: true }))).toBe("not_found");
  });

  it("refuses sends in a DIRECT conversation where either user blocked the other", () => {
    expect(outcome(user, "message.send", { conversationKind: "direct", role: "owner", blocked: true })).toBe("permission_denied");
    expect(outcome(user, "message.send", { conversationKind: "direct", role: "owner" })).toBe("allow");
  });

  it("checks in one order: visibility, the right, the caller's state, the conversation's state", () => {
    expect(outcome(user, "message.send", group(undefined, { callerMuted: true, frozen: true }))).toBe("not_found");
    expect(outcome(user, "message.send", group("member", { conversationKind: "channel", callerMuted: true, frozen: true }))).toBe("permission_denied");
    expect(authorize(user, "message.send", group("member", { callerMuted: true, frozen: true }))).toMatchObject({ reason: expect.stringMatching(/muted/) });
  });
});

describe("ABAC engine: tenant roles and grants", () => {
  it("lets tenant admins and moderators moderate any conversation of the tenant, members or not, but never owners", () => {
    for (const s of [moderator, admin]) {
      for (const a of ["conversation.freeze", "member.mute", "member.ban", "member.list.bans", "message.delete.any", "message.delete"] as Action[]) {
        expect(outcome(s, a, group(undefined, { targetRole: "admin" }))).toBe("allow");
      }
      expect(outcome(s, "member.ban", group(undefined, { targetRole: "owner" }))).toBe("permission_denied");
      // Moderation is not membership: no reading or sending in conversations they are not in.
      expect(outcome(s, "conversation.read", group(undefined))).toBe("not_found");
      expect(outcome(s, "message.send", group(undefined))).toBe("not_found");
      expect(outcome(s, "conversation.update", group("member"))).toBe("permission_denied");
    }
    expect(outcome({ ...user, tenantRoles: [] }, "member.ban", group(undefined))).toBe("not_found");
  });

  it("extends a tenant role with per-tenant grants, ignoring unknown action names", () => {
    const policy = withGrants(DEFAULT_POLICY, [
      { role: "user", actions: ["message.pin"] },
      { role: "support", actions: ["conversation.freeze", "no.such.action"] },
    ]);
    expect(outcome(user, "message.pin", group("member"), policy)).toBe("allow");
    expect(outcome(user, "message.pin", group("member"))).toBe("permission_denied");
    const support: Subject = { ...user, tenantRoles: ["support"] };
    expect(outcome(support, "conversation.freeze", group(undefined), policy)).toBe("allow");
    expect(outcome(support, "member.ban", group(undefined), policy)).toBe("not_found");
    expect(policy.tenantGrants["support"]).toEqual(["conversation.freeze"]);
    // The defaults are kept.
    expect(outcome(moderator, "member.mute", group(undefined), policy)).toBe("allow");
  });

  it("enforce throws the error of the decision's code", () => {
    expect(() => enforce(authorize(user, "message.send", group(undefined)))).toThrow(NotFoundError);
    expect(() => enforce(authorize(user, "conversation.delete", group("admin")))).toThrow(PermissionDeniedError);
    expect(() => enforce(authorize(user, "message.send", group("member", { frozen: true })))).toThrow(FailedPreconditionError);
    expect(() => enforce(authorize(user, "message.send", group("member")))).not.toThrow();
  });
});
