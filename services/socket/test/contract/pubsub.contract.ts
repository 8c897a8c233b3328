import type { PubSub, SystemChannel } from "../../src/ports/pubsub.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { forgedScope, type Instances } from "@caas/shared/testing";

/** The factory passes `onHandlerError` to every adapter it creates. */
export type PubSubFactory = (opts: { onHandlerError: (err: unknown, channel: string) => void }) => Promise<Instances<PubSub>>;

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A handler that records what it got, as text. */
function recorder() {
  const got: string[] = [];
  return { got, handler: (m: Uint8Array) => void got.push(dec(m)) };
}

/** Waits until `check` passes: deliveries are asynchronous on every adapter. */
const eventually = (check: () => void) => vi.waitFor(check, { timeout: 3000, interval: 5 });

/** The `PubSub` contract (ports/pubsub.ts), run against every adapter. */
export function pubSubContract(name: string, factory: PubSubFactory): void {
  describe(`PubSub contract: ${name}`, () => {
    let h: Instances<PubSub>;
    let handlerErrors: unknown[];
    beforeEach(async () => {
      handlerErrors = [];
      h = await factory({ onHandlerError: (err) => handlerErrors.push(err) });
    });
    afterEach(async () => {
      await h.close();
    });

    it("delivers every message, in publish order, to every subscriber on every instance", async () => {
      const scope = freshTenantScope();
      const subs = [recorder(), recorder(), recorder()];
      await h.a.subscribe(scope, "conv:1", subs[0]!.handler);
      await h.b.subscribe(scope, "conv:1", subs[1]!.handler);
      await h.b.subscribe(scope, "conv:1", subs[2]!.handler);
      const sent = Array.from({ length: 30 }, (_, i) => `m${i}`);
      // Not awaiting in between: order must still hold for one publisher.
      await Promise.all(sent.map((m) => h.a.publish(scope, "conv:1", enc(m))));
      await eventually(() => {
        for (const s of subs) expect(s.got).toEqual(sent);
      });
    });

    it("carries arbitrary bytes unchanged, copied at publish", async () => {
      const scope = freshTenantScope();
      const got: Uint8Array[] = [];
      const seen: Uint8Array[] = [];
      await h.b.subscribe(scope, "bin", (m) => {
        got.push(m);
        m.fill(0); // must not affect the next subscription's copy
      });
      await h.b.subscribe(scope, "bin", (m) => void seen.push(m));
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const publishing = h.a.publish(scope, "bin", bytes);
      bytes[0] = 99;
      await publishing;
      await eventually(() => expect(seen).toHaveLength(1));
      expect(got).toHaveLength(1);
      expect([...seen[0]!]).toEqual(Array.from({ length: 256 }, (_, i) => i));
    });

    it("stops delivering to a subscription once unsubscribed, keeping the others", async () => {
      const scope = freshTenantScope();
      const leaving = recorder();
      const staying = recorder();
      const elsewhere = recorder();
      const unsubscribe = await h.a.subscribe(scope, "room", leaving.handler);
      await h.a.subscribe(scope, "room", staying.handler); // same instance, same channel
      await h.b.subscribe(scope, "room", elsewhere.handler);
      await h.a.publish(scope, "room", enc("one"));
      await eventually(() => expect([leaving.got, staying.got, elsewhere.got]).toEqual([["one"], ["one"], ["one"]]));
      await unsubscribe();
      await unsubscribe(); // idempotent
      await h.b.publish(scope, "room", enc("two"));
      await eventually(() =>
        expect([staying.got, elsewhere.got]).toEqual([
          ["one", "two"],
          ["one", "two"],
        ]),
      );
      expect(leaving.got).toEqual(["one"]);
    });

    it("never calls a handler after its unsubscribe was called, even for a message in flight", async () => {
      const scope = freshTenantScope();
      const leaving = recorder();
      const witness = recorder();
      const unsubscribe = await h.b.subscribe(scope, "room", leaving.handler);
      await h.b.subscribe(scope, "room", witness.handler);
      // Arguments are evaluated in order: the message is on its way when unsubscribe is called.
      await Promise.all([h.a.publish(scope, "room", enc("in-flight")), unsubscribe()]);
      await h.a.publish(scope, "room", enc("after"));
      await eventually(() => expect(witness.got).toEqual(["in-flight", "after"]));
      expect(leaving.got).toEqual([]);
    });

    it("subscribes again after the last subscription of a channel left", async () => {
      const scope = freshTenantScope();
      const first = recorder();
      await (
        await h.b.subscribe(scope, "c", first.handler)
      )();
      const again = recorder();
      await h.b.subscribe(scope, "c", again.handler);
      await h.a.publish(scope, "c", enc("x"));
      await eventually(() => expect(again.got).toEqual(["x"]));
      expect(first.got).toEqual([]);
    });

    it("keeps delivering when a handler throws", async () => {
      const scope = freshTenantScope();
      const fine = recorder();
      let calls = 0;
      await h.b.subscribe(scope, "c", () => {
        calls++;
        throw new Error("handler bug");
      });
      await h.b.subscribe(scope, "c", fine.handler);
      await h.a.publish(scope, "c", enc("1"));
      await h.a.publish(scope, "c", enc("2"));
      await eventually(() => expect(fine.got).toEqual(["1", "2"]));
      expect(calls).toBe(2);
      expect(handlerErrors).toHaveLength(2);
    });

    it("never lets the same channel of two tenants leak", async () => {
      const tenantA = freshTenantScope();
      const tenantB = freshTenantScope();
      const subA = recorder();
      const subB = recorder();
      await h.a.subscribe(tenantA, "conv:shared-name", subA.handler);
      await h.b.subscribe(tenantB, "conv:shared-name", subB.handler);
      await h.a.publish(tenantA, "conv:shared-name", enc("for-a"));
      await h.b.publish(tenantB, "conv:shared-name", enc("for-b"));
      await h.a.publish(tenantA, "conv:shared-name", enc("for-a-2"));
      await eventually(() => expect(subA.got).toEqual(["for-a", "for-a-2"]));
      await eventually(() => expect(subB.got).toEqual(["for-b"]));
    });

    it("keeps system channels apart from every tenant channel", async () => {
      const scope = freshTenantScope();
      const system = recorder();
      const lookalike = recorder();
      const channel: SystemChannel = "revocations";
      await h.b.subscribeSystem(channel, system.handler);
      await h.b.subscribe(scope, channel, lookalike.handler);
      await h.a.publishSystem(channel, enc("sid:1"));
      await h.a.publish(scope, channel, enc("tenant"));
      await h.a.publishSystem("tenant-status", enc("other system channel"));
      await h.a.publishSystem(channel, enc("sid:2"));
      await eventually(() => expect(system.got).toEqual(["sid:1", "sid:2"]));
      await eventually(() => expect(lookalike.got).toEqual(["tenant"]));
      await expect(h.a.publishSystem("anything" as SystemChannel, enc("x"))).rejects.toThrow(RangeError);
      await expect(h.a.subscribeSystem("anything" as SystemChannel, () => {})).rejects.toThrow(RangeError);
    });

    it("refuses bad channel names and forged scopes", async () => {
      const scope = freshTenantScope();
      for (const channel of ["", "c".repeat(257)]) {
        await expect(h.a.publish(scope, channel, enc("x"))).rejects.toThrow(RangeError);
        await expect(h.a.subscribe(scope, channel, () => {})).rejects.toThrow(RangeError);
      }
      await expect(h.a.publish(forgedScope, "c", enc("x"))).rejects.toThrow(TypeError);
      await expect(h.a.subscribe(forgedScope, "c", () => {})).rejects.toThrow(TypeError);
    });
  });
}
