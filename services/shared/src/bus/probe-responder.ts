import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { PlatformProbeEnvelopeSchema } from "@caas/gen/caas/events/v1/platform_events_pb.js";
import type { Clock } from "../clock.js";
import { CORRELATION_HEADER, acceptCorrelationId } from "../interceptors/correlation.js";
import type { Logger } from "../logger.js";
import type { EventBus, Subscription } from "./event-bus.js";
import { PLATFORM_PROBES } from "./topics.js";

/** Probes older than this are history being replayed, not questions. */
export const PROBE_MAX_AGE_MS = 60_000;

/**
 * Answers event-bus probes: consumes `caas.platform.probes.v1` in a group of this instance's own
 * and replies with its service name and instance id. The probe's correlation id (from the record
 * header) is bound into the log line and copied onto the reply.
 */
export async function startProbeResponder(opts: { bus: EventBus; service: string; instanceId: string; logger: Logger; clock: Clock }): Promise<Subscription> {
  return opts.bus.subscribe(PLATFORM_PROBES, { group: `probe-responder.${opts.service}.${opts.instanceId}`, from: "earliest" }, async (record) => {
    const probe = record.value;
    if (probe.payload.case !== "request") return;
    const age = opts.clock.nowMs() - (probe.createTime ? timestampMs(probe.createTime) : 0);
    if (age > PROBE_MAX_AGE_MS) return;
    const correlationId = acceptCorrelationId(record.headers[CORRELATION_HEADER]);
    opts.logger.child({ correlationId }).info({ probeId: probe.probeId, topic: PLATFORM_PROBES.name }, "event bus probe received");
    await opts.bus.publish(PLATFORM_PROBES, [
      {
        key: probe.probeId,
        headers: { [CORRELATION_HEADER]: correlationId },
        value: create(PlatformProbeEnvelopeSchema, {
          probeId: probe.probeId,
          createTime: timestampFromMs(opts.clock.nowMs()),
          payload: { case: "reply", value: { service: opts.service, instanceId: opts.instanceId } },
        }),
      },
    ]);
  });
}
