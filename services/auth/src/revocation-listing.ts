import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ListRevocationsResponse } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { ListRevocationsResponseSchema } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { RevocationKind as ProtoKind, RevocationSchema } from "@caas/gen/caas/auth/v1/revocation_pb.js";
import { InvalidArgumentError } from "@caas/shared/errors";
import type { Clock } from "@caas/shared/clock";
import type { RevocationKind } from "@caas/shared/identity/revocations";
import type { RevocationStore } from "./ports/revocation-store.js";

const KINDS: Record<RevocationKind, ProtoKind> = {
  session: ProtoKind.SESSION,
  user: ProtoKind.USER,
  tenant: ProtoKind.TENANT,
  "signing-key": ProtoKind.SIGNING_KEY,
};

/** Cursors are `r1.` + the last entry's id, base64url: opaque to callers, versioned for us. */
const CURSOR = /^r1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

function encodeCursor(id: string): string {
  return Buffer.from(`r1.${id}`, "utf8").toString("base64url");
}

function decodeCursor(cursor: string): string | undefined {
  if (cursor === "") return undefined;
  const m = CURSOR.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!m) throw new InvalidArgumentError("cursor is not valid", [{ field: "cursor", description: "not a cursor of ListRevocations" }]);
  return m[1]!;
}

/**
 * One page of AuthInternalService.ListRevocations: unexpired entries after `cursor`, oldest
 * first; `next_cursor` is the last entry's (the given one when the page is empty), `has_more`
 * when the page is full and more may follow. `limit` 0 means 500.
 */
export async function listRevocationsPage(store: RevocationStore, clock: Clock, cursor: string, limit = 0): Promise<ListRevocationsResponse> {
  const afterId = decodeCursor(cursor);
  const size = limit === 0 ? 500 : limit;
  // One more than the page tells whether more follow (at the largest page, a full page says so).
  const fetch = Math.min(size + 1, 1000);
  const rows = await store.list({ ...(afterId !== undefined ? { afterId } : {}), nowMs: clock.nowMs(), limit: fetch });
  const page = rows.slice(0, size);
  return create(ListRevocationsResponseSchema, {
    revocations: page.map((r) =>
      create(RevocationSchema, {
        kind: KINDS[r.kind],
        tenantId: r.tenantId,
        subjectId: r.subjectId,
        revokeTime: timestampFromMs(r.revokeTimeMs),
        expireTime: timestampFromMs(r.expireTimeMs),
      }),
    ),
    nextCursor: page.length > 0 ? encodeCursor(page[page.length - 1]!.id) : cursor,
    hasMore: rows.length > size || (fetch === size && rows.length === size),
  });
}
