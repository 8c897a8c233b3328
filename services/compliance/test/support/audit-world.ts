import { createContextValues, type HandlerContext } from "@connectrpc/connect";
import { AuditActorKind, AuditOutcome } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { createLogger } from "@caas/shared/logger";
import { FakeClock } from "@caas/shared/clock";
import { PageTokenCodec } from "@caas/shared/page-token";
import { principalKey, type Principal } from "@caas/shared/context";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { AuditAppender, type AuditDraft } from "../../src/audit-appender.js";
import { AuditKeyManager } from "../../src/audit-keys.js";
import { AuditPseudonyms } from "../../src/audit-pseudonyms.js";
import { AuditServiceImpl } from "../../src/audit-service.js";
import type { AuditStore } from "../../src/ports/audit-store.js";

export const logger = createLogger({ service: "compliance-test", instance: "t", level: "silent" });
export const T0 = Date.UTC(2026, 0, 1);

/** A draft of a session revocation by `user`, from source event `id`. */
export function draft(id: string, over: Partial<AuditDraft> = {}): AuditDraft {
  return {
    sourceEventId: id,
    source: "caas.auth.events.v1",
    eventTimeMs: T0,
    actor: { kind: AuditActorKind.USER, id: "alice" },
    action: "auth.session.revoke",
    target: { type: "session", id: `s-${id}` },
    outcome: AuditOutcome.SUCCESS,
    correlationId: `c-${id}`,
    details: { reason: "SIGN_OUT" },
    ...over,
  };
}

/** An appender, key manager and AuditService over one store, on a fake clock. */
export function auditWorld(store: AuditStore, opts: { checkpointEvery?: number; clock?: FakeClock; pseudonymise?: boolean } = {}) {
  const clock = opts.clock ?? new FakeClock(T0);
  const keys = new AuditKeyManager({ store, kek: Buffer.alloc(32, 7), clock, logger });
  const pseudonyms = opts.pseudonymise ? new AuditPseudonyms({ store, subjectKey: Buffer.alloc(32, 5), nowMs: () => clock.nowMs() }) : undefined;
  const appender = new AuditAppender({ store, clock, signer: keys, logger, checkpointEvery: opts.checkpointEvery ?? 5, ...(pseudonyms ? { pseudonyms } : {}) });
  const service = new AuditServiceImpl({ store, keys, pageTokens: new PageTokenCodec(Buffer.alloc(32, 9)), ...(pseudonyms ? { pseudonyms } : {}) });
  return { clock, keys, appender, service, pseudonyms };
}

/** A handler context whose caller is `principal` (what the principal interceptor would set). */
export function callerCtx(principal: Principal): HandlerContext {
  return { values: createContextValues().set(principalKey, principal), signal: new AbortController().signal } as unknown as HandlerContext;
}

/** A tenant API key caller of `scope`. */
export const apiKeyOf = (scope: TenantScope): HandlerContext => callerCtx({ kind: "api-key", tenantId: scope.tenantId, apiKeyId: "k1" });

/** The whole export of a tenant as text. */
export async function exportText(service: AuditServiceImpl, ctx: HandlerContext, range: { startPosition?: bigint; endPosition?: bigint } = {}): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const r of service.exportAuditLog({ startPosition: range.startPosition ?? 0n, endPosition: range.endPosition ?? 0n } as never, ctx)) text += decoder.decode(r.chunk);
  return text;
}
