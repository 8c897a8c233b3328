/**
 * What the cross-service tests use from auth: the TOTP arithmetic (RFC 4226/6238), so a test can
 * compute the code an authenticator app would show. Not for production code.
 */
export { base32Decode, hotp, totpStep } from "../domain/totp.js";
