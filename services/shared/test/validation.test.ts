import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ViolationsSchema } from "@caas/gen/buf/validate/validate_pb.js";
import { TenantAdminService, UpdateTenantResponseSchema } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { describe, expect, it } from "vitest";
import { MAX_REPORTED_VIOLATIONS, createValidationInterceptor } from "../src/interceptors/validation.js";

const TENANT = "01a215af-6132-725b-bc47-064e28d115d4";
const handled: string[] = [];
const transport = (opts: Parameters<typeof createValidationInterceptor>[0] = {}) =>
  createRouterTransport(
    (router) =>
      router.service(TenantAdminService, {
        updateTenant: (req) => {
          handled.push(req.tenant?.id ?? "");
          return create(UpdateTenantResponseSchema, { tenant: req.tenant });
        },
      }),
    { router: { interceptors: [createValidationInterceptor(opts)] } },
  );

/** 32 bad origins and 16 role grants each with 32 bad actions: several hundred violations. */
function manyViolations() {
  return {
    tenant: {
      id: TENANT,
      settings: {
        allowedOrigins: Array.from({ length: 32 }, (_, i) => `not a uri ${i}`),
        roleGrants: Array.from({ length: 16 }, (_, g) => ({ role: `bad role ${g}`, actions: Array.from({ length: 32 }, (_, a) => `Bad Action ${a}`) })),
      },
    },
    updateMask: { paths: ["settings"] },
  };
}

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

describe("validation interceptor", () => {
  it("reports at most the first violations in the details and the total in the message", async () => {
    const client = createClient(TenantAdminService, transport());
    const err = await failure(client.updateTenant(manyViolations()));
    expect(err.code).toBe(Code.InvalidArgument);
    const [details] = err.findDetails(ViolationsSchema);
    expect(details?.violations).toHaveLength(MAX_REPORTED_VIOLATIONS);
    expect(details?.violations[0]?.field?.elements.map((e) => e.fieldName)).toEqual(["tenant", "settings", "allowed_origins"]);
    const total = /and (\d+) more violations/.exec(err.rawMessage);
    expect(Number(total?.[1]) + 1).toBeGreaterThan(500);
    const detailBytes = toBinary(ViolationsSchema, details!).length;
    expect(detailBytes).toBeLessThan(8 * 1024);
  });

  it("keeps every violation when there are few", async () => {
    const client = createClient(TenantAdminService, transport());
    const err = await failure(client.updateTenant({ tenant: { id: TENANT, settings: { allowedOrigins: ["not a uri"] } }, updateMask: { paths: ["settings"] } }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(ViolationsSchema)[0]?.violations).toHaveLength(1);
  });

  it("leaves services it forwards to their owner unvalidated", async () => {
    const client = createClient(TenantAdminService, transport({ skipServices: [TenantAdminService.typeName] }));
    handled.length = 0;
    const res = await client.updateTenant(manyViolations());
    expect(res.tenant?.id).toBe(TENANT);
    expect(handled).toEqual([TENANT]);
  });
});
