/**
 * One token-signing key pair. Platform-wide, not tenant data: every tenant's tokens are signed by
 * the current key and every verifier needs the same public keys.
 */
export interface SigningKeyRecord {
  /** Key id, the `kid` header of the tokens it signs. */
  kid: string;
  /** "EdDSA". */
  alg: string;
  /** The public key as a JWK (JSON text), published in the JWKS. */
  publicJwk: string;
  /** The private key, encrypted (AES-256-GCM under the auth keyring); never stored in clear. */
  encryptedPrivateKey: Uint8Array;
  createTimeMs: number;
  /** From this time on the key signs; before it, it is only published (verifiers learn it first). */
  activateTimeMs: number;
}

/** The signing keys, shared by every auth instance. */
export interface SigningKeyStore {
  /** Adds a key. AlreadyExistsError if the kid exists. */
  insert(record: SigningKeyRecord): Promise<void>;

  /** Every stored key, in ascending (activateTimeMs, kid) order. */
  list(): Promise<SigningKeyRecord[]>;

  /** Removes keys (retired keys whose tokens have all expired). Unknown kids are ignored. */
  delete(kids: string[]): Promise<void>;

  close(): Promise<void>;
}
