import type { RevocationKind } from "@caas/shared/identity/revocations";
import type { StoredRevocation } from "../ports/revocation-store.js";
import { checkId, checkTime } from "./checks.js";

const KINDS: readonly RevocationKind[] = ["session", "user", "tenant", "signing-key"];

/** A deny-set entry to record: every adapter refuses the same inputs. */
export function checkRevocation(r: StoredRevocation): void {
  checkId("id", r.id, 64);
  if (!KINDS.includes(r.kind)) throw new RangeError(`unknown revocation kind ${String(r.kind)}`);
  if (typeof r.tenantId !== "string" || r.tenantId.length > 64) throw new RangeError("tenantId must be a string of at most 64 characters");
  if (typeof r.subjectId !== "string" || r.subjectId.length > 256) throw new RangeError("subjectId must be a string of at most 256 characters");
  checkTime("revokeTimeMs", r.revokeTimeMs);
  checkTime("expireTimeMs", r.expireTimeMs);
}
