import type { CloseCode, ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import type { FrameSink } from "../session.js";

/**
 * A FrameSink read by a gRPC/Connect streaming handler: frames wait here until the response
 * stream takes them (HTTP/2 flow control sets the pace), so its length is the client's backlog.
 */
export class StreamSink implements FrameSink {
  private queue: ServerFrame[] = [];
  private ended = false;
  private wake?: () => void;

  constructor(private readonly maxBacklog: number) {}

  write(frames: ServerFrame[]): void {
    if (this.ended) return;
    this.queue.push(...frames);
    this.wake?.();
  }

  congested(): boolean {
    return this.queue.length > this.maxBacklog;
  }

  end(_code: CloseCode, _reason: string): void {
    this.ended = true;
    this.wake?.();
  }

  /** The frames in order, until end() (after the frames written before it). */
  async *frames(signal: AbortSignal): AsyncGenerator<ServerFrame> {
    for await (const batch of this.batches(signal)) yield* batch;
  }

  /** The first frame waiting, once there is one; undefined once ended (or `signal` aborted) with none waiting. */
  async first(signal: AbortSignal): Promise<ServerFrame | undefined> {
    for await (const batch of this.batches(signal)) {
      const [head, ...rest] = batch;
      this.queue = rest.length > 0 ? [...rest, ...this.queue] : this.queue;
      return head;
    }
    return undefined;
  }

  /** The frames in order as the batches waiting when the reader comes (a reader slower than the writer takes many at once), until end(). */
  async *batches(signal: AbortSignal): AsyncGenerator<ServerFrame[]> {
    const onAbort = () => this.end(0, "cancelled");
    signal.addEventListener("abort", onAbort);
    try {
      for (;;) {
        if (this.queue.length > 0) {
          const batch = this.queue;
          this.queue = [];
          yield batch;
          continue;
        }
        if (this.ended || signal.aborted) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}
