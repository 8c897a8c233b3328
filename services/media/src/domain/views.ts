import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { MediaSchema, MediaState, type Media } from "@caas/gen/caas/media/v1/media_pb.js";
import type { MediaRecord } from "../ports/media-store.js";

/** The public view of a media record. */
export function mediaView(r: MediaRecord): Media {
  return create(MediaSchema, {
    id: r.id,
    ownerId: r.ownerId,
    name: r.name,
    mimeType: r.mimeType,
    sizeBytes: BigInt(r.sizeBytes),
    state: r.state === "ready" ? MediaState.READY : MediaState.PENDING,
    createTime: timestampFromMs(r.createTimeMs),
    ...(r.readyTimeMs > 0 ? { readyTime: timestampFromMs(r.readyTimeMs) } : {}),
    maxBytes: BigInt(r.maxBytes),
  });
}
