import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { PlatformProbeEnvelopeSchema } from "@caas/gen/caas/events/v1/platform_events_pb.js";
import { CORRELATION_HEADER } from "@caas/shared/interceptors/correlation";
import { currentScope } from "@caas/shared/context";
import { newId } from "@caas/shared/ids";
import { PLATFORM_PROBES } from "@caas/shared/eventing/topics";
import type { Clock } from "@caas/shared/clock";
import type { EventBus, Subscription } from "@caas/shared/eventing/bus";

/** One instance's answer to a probe. */
export interface ProbeAnswerRecord {
  service: string;
  instanceId: string;
  latencyMs: number;
}

/**
 * Publishes event-bus probes and collects the replies (consumed in a group of this gateway
 * instance's own, so every gateway sees the replies to its probes).
 */
export class ProbeCollector {
  private readonly pending = new Map<string, { started: number; answers: ProbeAnswerRecord[]; onAnswer: () => void }>();
  private subscription: Subscription | undefined;

  constructor(
    private readonly bus: EventBus,
    private readonly instanceId: string,
    private readonly clock: Clock,
  ) {}

  async start(): Promise<void> {
    this.subscription = await this.bus.subscribe(PLATFORM_PROBES, { group: `probe-collector.gateway.${this.instanceId}`, from: "earliest" }, async (record) => {
      const probe = record.value;
      if (probe.payload.case !== "reply") return;
      const waiting = this.pending.get(probe.probeId);
      if (!waiting) return;
      const { service, instanceId } = probe.payload.value;
      if (waiting.answers.some((a) => a.service === service && a.instanceId === instanceId)) return;
      waiting.answers.push({ service, instanceId, latencyMs: Math.max(0, this.clock.nowMs() - waiting.started) });
      waiting.onAnswer();
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
  }

  /**
   * Publishes a probe and waits until every expected service has answered from as many instances
   * as it has (per the mesh directory), or the timeout passes. The caller's correlation id travels
   * in the record headers.
   */
  async probe(expected: Map<string, number>, timeoutMs: number): Promise<{ probeId: string; answers: ProbeAnswerRecord[]; missing: string[] }> {
    const probeId = newId();
    const correlationId = currentScope()?.correlationId ?? newId();
    let wake: () => void = () => {};
    const entry = { started: this.clock.nowMs(), answers: [] as ProbeAnswerRecord[], onAnswer: () => wake() };
    this.pending.set(probeId, entry);
    const missing = () => [...expected].filter(([service, instances]) => entry.answers.filter((a) => a.service === service).length < instances).map(([service]) => service);
    try {
      await this.bus.publish(PLATFORM_PROBES, [
        {
          key: probeId,
          headers: { [CORRELATION_HEADER]: correlationId },
          value: create(PlatformProbeEnvelopeSchema, {
            probeId,
            createTime: timestampFromMs(this.clock.nowMs()),
            payload: { case: "request", value: { fromInstance: this.instanceId } },
          }),
        },
      ]);
      const deadline = Date.now() + timeoutMs;
      while (missing().length > 0 && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      return { probeId, answers: [...entry.answers], missing: missing() };
    } finally {
      this.pending.delete(probeId);
    }
  }
}
