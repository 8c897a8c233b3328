import type { RevocationEntry } from "@caas/shared/identity/revocations";

/** A deny-set entry as kept by auth, with the id that orders ListRevocations. */
export interface StoredRevocation extends RevocationEntry {
  /** UUIDv7 assigned when the revocation is recorded; the listing order. */
  id: string;
}

/** One page of `list`. */
export interface RevocationListQuery {
  /** Only entries with a greater id (the previous page's last); from the oldest when omitted. */
  afterId?: string;
  /** Entries that expired at or before this time are left out. */
  nowMs: number;
  /** 1..1000. */
  limit: number;
}

/**
 * The deny-set entries auth has published (sessions, users, tenants, signing keys), for verifiers
 * that start late (AuthInternalService.ListRevocations). Platform-wide, not per tenant: a
 * verifier needs every tenant's entries, and each entry names its tenant; only internal RPCs
 * (service tokens) read it.
 *
 * Ordering: by id (UUIDv7). Ids from several auth instances interleave by their clocks, so a
 * reader paging with `afterId` while entries are being added may miss one added meanwhile with a
 * smaller id; verifiers list once at start and follow the auth events topic afterwards.
 * Idempotency: adding an id twice keeps the first. Expiry: entries past `expireTimeMs` are never
 * listed and may be deleted by any call.
 */
export interface RevocationStore {
  /** Records one entry (its id must be new, UUIDv7). */
  add(entry: StoredRevocation): Promise<void>;

  /** Unexpired entries after `afterId`, in id order, at most `limit`. */
  list(query: RevocationListQuery): Promise<StoredRevocation[]>;

  close(): Promise<void>;
}
