import type { RevocationStore } from "./revocation-store.js";
import type { ApiKeyStore } from "./api-key-store.js";
import type { AuthStateStore } from "./auth-state-store.js";
import type { PasswordStore } from "./password-store.js";
import type { SessionStore } from "./session-store.js";
import type { TotpStore } from "./totp-store.js";
import type { SigningKeyStore } from "./signing-key-store.js";
import type { TenantStore } from "./tenant-store.js";
import type { UserStore } from "./user-store.js";

/** Every store of the auth service, on one backend. */
export interface AuthStores {
  tenants: TenantStore;
  apiKeys: ApiKeyStore;
  users: UserStore;
  signingKeys: SigningKeyStore;
  state: AuthStateStore;
  sessions: SessionStore;
  passwords: PasswordStore;
  totp: TotpStore;
  revocations: RevocationStore;
  /** Closes the stores, then the database connection they share. */
  close(): Promise<void>;
}
