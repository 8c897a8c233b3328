import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { MediaInternalService } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { ResourceInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { FailedPreconditionError, NotFoundError, UnavailableError } from "@caas/shared/errors";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { AttachAuthority, AttachedMedia, MediaAttacher } from "../ports/media-attacher.js";

export interface GrpcMediaAttacherOptions {
  /** A generated MediaInternalService client (the mesh peer client, or an in-memory transport in tests). */
  client: Client<typeof MediaInternalService>;
  /** A service token for audience `media` (`sub=svc:chat`); the caller's own token is never forwarded. */
  serviceToken(): Promise<string>;
}

/** Codes that mean the media service could not answer now: the send may be retried. */
const TRANSIENT = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.ResourceExhausted, Code.Canceled]);

/**
 * MediaAttacher over MediaInternalService.AttachMedia with chat's service token. Media's answers
 * become chat's domain errors: NOT_FOUND names the attachment field, FAILED_PRECONDITION stays, an unreachable or overloaded media service
 * is UNAVAILABLE. Any other answer (a refused service token, a malformed request) is a fault of
 * this deployment, not of the caller: it is logged and reaches the caller as INTERNAL.
 */
export function createGrpcMediaAttacher(opts: GrpcMediaAttacherOptions): MediaAttacher {
  return {
    async attach(scope: TenantScope, conversationId: string, mediaIds: readonly string[], authority: AttachAuthority): Promise<AttachedMedia[]> {
      let token: string;
      try {
        token = await opts.serviceToken();
      } catch (err) {
        throw new UnavailableError(`attachments cannot be checked now (no service token for the media service: ${ConnectError.from(err).rawMessage}); nothing was sent`);
      }
      let media;
      try {
        ({ media } = await opts.client.attachMedia(
          {
            tenantId: scope.tenantId,
            conversationId,
            mediaIds: [...mediaIds],
            authority: "uploaderId" in authority ? { case: "uploaderId", value: authority.uploaderId } : { case: "sourceConversationId", value: authority.sourceConversationId },
          },
          { headers: { authorization: `Bearer ${token}` } },
        ));
      } catch (err) {
        const e = ConnectError.from(err);
        const field = attachmentField(mediaIds, e);
        if (e.code === Code.NotFound) throw new NotFoundError(field);
        if (e.code === Code.FailedPrecondition) throw new FailedPreconditionError(`${field}: ${e.rawMessage}`);
        if (TRANSIENT.has(e.code)) throw new UnavailableError(`the media service is unavailable (${e.rawMessage}); nothing was sent`);
        // Not a ConnectError: the error interceptor would pass its code (e.g. PERMISSION_DENIED) on to the user.
        throw new Error(`MediaInternalService.AttachMedia failed: ${Code[e.code]}: ${e.rawMessage}`, { cause: err });
      }
      const byId = new Map(media.map((m) => [m.id.toLowerCase(), m]));
      return mediaIds.map((id) => {
        const m = byId.get(id);
        if (!m) throw new Error(`AttachMedia answered without media ${id}`);
        return { id, name: m.name, mimeType: m.mimeType, sizeBytes: m.sizeBytes };
      });
    },

    async detach(scope: TenantScope, conversationId: string, mediaIds: readonly string[]): Promise<void> {
      const token = await opts.serviceToken();
      await opts.client.detachMedia({ tenantId: scope.tenantId, conversationId, mediaIds: [...mediaIds] }, { headers: { authorization: `Bearer ${token}` } });
    },
  };
}

/**
 * The request field an error of media is about: `attachments[i].media_id` when the error's
 * google.rpc.ResourceInfo names one of the caller's own ids (the caller sent those ids, so
 * naming one reveals nothing), else `attachments.media_id`.
 */
function attachmentField(mediaIds: readonly string[], err: ConnectError): string {
  const named = err.findDetails(ResourceInfoSchema).find((r) => r.resourceType === "caas.media.v1.Media")?.resourceName;
  const i = named === undefined ? -1 : mediaIds.indexOf(named.toLowerCase());
  return mediaIds.length === 1 ? "attachments[0].media_id" : i >= 0 ? `attachments[${i}].media_id` : "attachments.media_id";
}

/** The attacher of an instance that cannot call the media service: every attachment is UNAVAILABLE. */
export function unavailableMediaAttacher(reason: string): MediaAttacher {
  return {
    async attach() {
      throw new UnavailableError(`attachments are unavailable: ${reason}; nothing was sent`);
    },
    async detach() {
      throw new UnavailableError(`attachments cannot be detached: ${reason}`);
    },
  };
}
