import type { Transport } from "@connectrpc/connect";

/** Streams one lane (one HTTP/2 connection) carries at most, unless told otherwise. */
export const DEFAULT_STREAMS_PER_LANE = 100;

interface Lane {
  transport: Transport;
  open: number;
}

/**
 * A transport for long-lived streams to one peer instance spread over as many HTTP/2 connections
 * ("lanes") as they need, each carrying at most `streamsPerLane` open streams.
 *
 * One connection is not enough: a peer announces SETTINGS_MAX_CONCURRENT_STREAMS (ours default to
 * 1000, CAAS_HTTP2_MAX_CONCURRENT_STREAMS), and a Node client holds a stream over that limit
 * unsent, with no error and no timeout (docs/operations/connection-limits.md). The gateway forwards
 * every gRPC realtime session of its callers to a socket instance as one stream, so without lanes
 * its 1001st subscriber would wait silently for ever. A new stream takes the least-loaded lane
 * with room, or opens a new lane; a lane's count drops when its stream ends, fails or is
 * cancelled. Lanes stay open once made (an idle HTTP/2 connection costs little, and the next
 * burst of subscribers reuses it).
 */
export function createStreamLanes(newTransport: () => Transport, streamsPerLane = DEFAULT_STREAMS_PER_LANE): Transport & { laneCounts(): number[] } {
  if (!Number.isInteger(streamsPerLane) || streamsPerLane < 1) throw new RangeError("streamsPerLane must be a positive integer");
  const lanes: Lane[] = [];
  const take = (): Lane => {
    let best: Lane | undefined;
    for (const lane of lanes) if (lane.open < streamsPerLane && (!best || lane.open < best.open)) best = lane;
    if (!best) {
      best = { transport: newTransport(), open: 0 };
      lanes.push(best);
    }
    best.open++;
    return best;
  };
  const first = (): Lane => lanes[0] ?? (lanes.push({ transport: newTransport(), open: 0 }), lanes[0]!);
  return {
    // Unary calls are short: they share the first lane and are not counted.
    unary: (...args) => first().transport.unary(...args),
    stream: async (...args) => {
      const lane = take();
      let released = false;
      const release = () => {
        if (!released) lane.open--;
        released = true;
      };
      try {
        const res = await lane.transport.stream(...args);
        const messages = res.message;
        return {
          ...res,
          message: (async function* () {
            try {
              yield* messages;
            } finally {
              release();
            }
          })(),
        };
      } catch (err) {
        release();
        throw err;
      }
    },
    laneCounts: () => lanes.map((l) => l.open),
  };
}
