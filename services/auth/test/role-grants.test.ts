import { create } from "@bufbuild/protobuf";
import { TenantSettingsSchema } from "@caas/gen/caas/auth/v1/tenant_pb.js";
import { InvalidArgumentError } from "@caas/shared/errors";
import { describe, expect, it } from "vitest";
import { checkRoleGrants } from "../src/domain/role-grants.js";

describe("TenantSettings.role_grants checks", () => {
  const settings = (roleGrants: { role: string; actions: string[] }[]) => create(TenantSettingsSchema, { roleGrants });

  it("accepts grants of known actions, one entry per role", () => {
    expect(() =>
      checkRoleGrants(
        settings([
          { role: "user", actions: ["message.pin"] },
          { role: "support", actions: ["conversation.freeze", "member.mute"] },
        ]),
      ),
    ).not.toThrow();
    expect(() => checkRoleGrants(undefined)).not.toThrow();
  });

  it("refuses unknown actions and a role granted twice, naming the field", () => {
    const unknown = (() => {
      try {
        checkRoleGrants(settings([{ role: "user", actions: ["message.pin", "message.fly"] }]));
      } catch (e) {
        return e;
      }
    })();
    expect(unknown).toBeInstanceOf(InvalidArgumentError);
    expect((unknown as InvalidArgumentError).violations).toEqual([{ field: "tenant.settings.role_grants[0].actions[1]", description: "unknown action message.fly" }]);
    expect(() =>
      checkRoleGrants(
        settings([
          { role: "user", actions: ["message.pin"] },
          { role: "user", actions: ["member.mute"] },
        ]),
      ),
    ).toThrow(/role_grants/);
  });
});
