import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { JwkSchema, JwksSchema, type Jwks } from "@caas/gen/caas/auth/v1/jwk_pb.js";
import { notBuiltYet } from "@caas/shared";
import type { JSONWebKeySet } from "jose";
import type { SigningKeyManager } from "./keys/signing-keys.js";

/** Names the stage that builds what still answers UNIMPLEMENTED. */
export const STAGE_B = "issue #4 stage B";

/** A JWK set as the caas.auth.v1.Jwks message (its JSON form is the same document). */
export function jwksToProto(set: JSONWebKeySet): Jwks {
  return create(JwksSchema, {
    keys: set.keys.map((k) =>
      create(JwkSchema, {
        kty: k.kty ?? "",
        kid: k.kid ?? "",
        use: k.use ?? "",
        alg: k.alg ?? "",
        crv: k.crv ?? "",
        x: k.x ?? "",
        y: k.y ?? "",
      }),
    ),
  });
}

/**
 * caas.auth.v1.AuthService. GetJwks is built (no credential needed); password accounts,
 * sessions, refresh and MFA answer UNIMPLEMENTED naming issue #4 stage B.
 */
export function createAuthServiceImpl(deps: { keys: SigningKeyManager }): ServiceImpl<typeof AuthService> {
  return {
    ...notBuiltYet(AuthService, STAGE_B),
    async getJwks() {
      return { jwks: jwksToProto(await deps.keys.jwks()) };
    },
  };
}
