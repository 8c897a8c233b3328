import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { KeyDirectoryService } from "@caas/gen/caas/crypto/v1/key_directory_service_pb.js";
import { createErrorInterceptor } from "@caas/shared/interceptors/errors";
import { createValidationInterceptor } from "@caas/shared/interceptors/validation";
import { FakeClock } from "@caas/shared/clock";
import { principalKey, type Principal } from "@caas/shared/context";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { openCryptoStores, type CryptoStores } from "../src/crypto-stores.js";
import { DirectorySigner, newSigningKey } from "../src/domain/directory-signer.js";
import { DEFAULT_SIGNED_PREKEY_GRACE_MS } from "../src/key-directory-core.js";
import { KeyDirectoryServiceImpl } from "../src/key-directory-service.js";
import { registerCryptoRoutes } from "../src/routes.js";
import { SignalDevice } from "../../../tests/support/signal-device.js";

const dir = mkdtempSync(join(tmpdir(), "caas-crypto-service-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The caller as a context value (the real host verifies a JWT instead). */
const as =
  (tenantId: string, userId: string): Interceptor =>
  (next) =>
  (req) => {
    req.contextValues.set(principalKey, { kind: "user", tenantId, userId, sessionId: `s-${userId}`, deviceId: "d1", scopes: [], roles: [] } satisfies Principal);
    return next(req);
  };

describe("KeyDirectoryService (routes over SQLite stores, a recording notifier)", () => {
  let stores: CryptoStores;
  let clock: FakeClock;
  let notices: string[];
  let changes: string[];
  let client: (userId: string) => ReturnType<typeof createClient<typeof KeyDirectoryService>>;

  beforeEach(async () => {
    stores = await openCryptoStores({ kind: "sqlite", path: join(dir, `${Math.random()}.db`) });
    clock = new FakeClock();
    notices = [];
    changes = [];
    const impl = new KeyDirectoryServiceImpl({
      keys: stores.keys,
      history: stores.history,
      signer: new DirectorySigner(await stores.history.signingKey(newSigningKey())),
      clock,
      notifyLow: async (scope, userId, deviceId, remaining, threshold) => {
        notices.push(`${scope.tenantId}/${userId}/${deviceId}:${remaining}/${threshold}`);
      },
      notifyChanged: async (scope, userId, deviceId, kind, seq) => {
        changes.push(`${scope.tenantId}/${userId}/${deviceId}:${kind}@${seq}`);
      },
      lowWaterMark: 3,
      signedPreKeyGraceMs: DEFAULT_SIGNED_PREKEY_GRACE_MS,
    });
    client = (userId) =>
      createClient(
        KeyDirectoryService,
        createRouterTransport((router) => registerCryptoRoutes(router, impl), {
          router: { interceptors: [createErrorInterceptor(), as("t1", userId), createValidationInterceptor()] },
        }),
      );
  });
  afterEach(() => stores.close());

  it("tells the owner once at the low-water crossing, again at zero, and at most once a minute while claims find none", async () => {
    const bob = new SignalDevice("bob", 4);
    await client("bob").publishDeviceKeys(bob.publishRequest(4));
    const claim = async () => (await client("alice").claimPreKeyBundles({ userId: "bob" })).bundles[0]!.oneTimePrekey?.keyId;
    expect(await claim()).toBe(1);
    expect(notices).toEqual([]);
    expect(await claim()).toBe(2);
    expect(notices).toEqual(["t1/bob/4:2/3"]);
    expect(await claim()).toBe(3);
    expect(await claim()).toBe(4);
    expect(notices).toEqual(["t1/bob/4:2/3", "t1/bob/4:0/3"]);
    // Empty: the bundle falls back to the signed prekey; one notice a minute at most.
    expect(await claim()).toBeUndefined();
    expect(await claim()).toBeUndefined();
    expect(notices).toHaveLength(3);
    clock.advance(60_000);
    expect(await claim()).toBeUndefined();
    expect(notices).toHaveLength(4);
    // Refilled, the device hands out keys again.
    expect((await client("bob").uploadOneTimePreKeys({ deviceId: 4, oneTimePrekeys: bob.oneTimePreKeys(2) })).oneTimePrekeyCount).toBe(2);
    expect(await claim()).toBe(5);
  });

  it("shows the replaced signed prekey only during its grace period", async () => {
    const bob = new SignalDevice("bob", 1);
    await client("bob").publishDeviceKeys(bob.publishRequest(0));
    const rotated = (await client("bob").replaceSignedPreKey({ deviceId: 1, signedPrekey: bob.signedPreKey(2), kyberPrekey: bob.kyberPreKey(2) })).device!;
    expect(rotated.previousSignedPrekey?.keyId).toBe(1);
    expect(timestampMs(rotated.previousSignedPrekeyExpireTime!)).toBe(clock.nowMs() + DEFAULT_SIGNED_PREKEY_GRACE_MS);
    expect(rotated.kyberPrekey?.keyId).toBe(2);
    clock.advance(DEFAULT_SIGNED_PREKEY_GRACE_MS);
    const later = (await client("alice").listDevices({ userId: "bob" })).devices[0]!;
    expect(later.signedPrekey?.keyId).toBe(2);
    expect(later.previousSignedPrekey).toBeUndefined();
  });

  it("uploads MLS KeyPackages and hands each out once per device, refusing bad batches and replays, storing nothing of them", async () => {
    for (const id of [1, 2]) await client("bob").publishDeviceKeys(new SignalDevice("bob", id).publishRequest(1));
    const pkg = (id: number) => ({ keyPackageId: id, keyPackage: new Uint8Array(200).fill(id) });
    expect((await client("bob").uploadKeyPackages({ deviceId: 1, keyPackages: [pkg(1), pkg(2)] })).keyPackageCount).toBe(2);
    expect((await client("bob").uploadKeyPackages({ deviceId: 2, keyPackages: [pkg(9)] })).keyPackageCount).toBe(1);
    const refused = async (p: Promise<unknown>) =>
      (
        await p.then(
          () => expect.fail("accepted"),
          (e: unknown) => ConnectError.from(e),
        )
      ).code;
    expect(await refused(client("bob").uploadKeyPackages({ deviceId: 1, keyPackages: [pkg(3), pkg(2)] }))).toBe(Code.AlreadyExists);
    expect(await refused(client("bob").uploadKeyPackages({ deviceId: 1, keyPackages: [pkg(4), pkg(4)] }))).toBe(Code.InvalidArgument);
    expect(await refused(client("bob").uploadKeyPackages({ deviceId: 1, keyPackages: [] }))).toBe(Code.InvalidArgument);
    expect(await refused(client("bob").uploadKeyPackages({ deviceId: 1, keyPackages: [{ keyPackageId: 5, keyPackage: new Uint8Array(16_385) }] }))).toBe(Code.InvalidArgument);
    expect(await refused(client("bob").uploadKeyPackages({ deviceId: 1, keyPackages: Array.from({ length: 101 }, (_, i) => pkg(10 + i)) }))).toBe(Code.InvalidArgument);
    expect(await refused(client("bob").uploadKeyPackages({ deviceId: 3, keyPackages: [pkg(6)] }))).toBe(Code.NotFound);
    expect(await client("bob").getPreKeyCount({ deviceId: 1 })).toMatchObject({ oneTimePrekeyCount: 1, keyPackageCount: 2 });

    const claim = async () => (await client("alice").claimKeyPackages({ userId: "bob" })).keyPackages.map((k) => `${k.deviceId}:${k.keyPackage?.keyPackageId}:${k.keyPackage?.keyPackage[0]}`);
    expect(await claim()).toEqual(["1:1:1", "2:9:9"]);
    expect(await claim()).toEqual(["1:2:2"]);
    expect(await claim()).toEqual([]);
    // The one-time prekeys were not touched; a user without devices is NOT_FOUND.
    expect(await client("bob").getPreKeyCount({ deviceId: 1 })).toMatchObject({ oneTimePrekeyCount: 1, keyPackageCount: 0 });
    expect(await refused(client("alice").claimKeyPackages({ userId: "carol" }))).toBe(Code.NotFound);
    expect(await refused(client("alice").claimKeyPackages({ userId: "bob", deviceIds: [5] }))).toBe(Code.NotFound);
  });

  it("pages the device-list history with opaque tokens to its end", async () => {
    for (const id of [1, 2, 3]) await client("bob").publishDeviceKeys(new SignalDevice("bob", id).publishRequest(0));
    await client("bob").removeDevice({ deviceId: 2 });
    const first = await client("alice").getDeviceListHistory({ userId: "bob", pageSize: 3 });
    expect(first.changes).toHaveLength(3);
    const rest = await client("alice").getDeviceListHistory({ userId: "bob", pageSize: 3, pageToken: first.nextPageToken });
    expect(rest.changes).toHaveLength(1);
    expect(rest.nextPageToken).toBe("");
    // Each stored change was announced once, with its history seq; refused calls announce nothing.
    await expect(client("bob").removeDevice({ deviceId: 2 })).rejects.toThrow();
    expect(changes).toEqual(["t1/bob/1:1@1", "t1/bob/2:1@2", "t1/bob/3:1@3", "t1/bob/2:2@4"]);
  });
});
