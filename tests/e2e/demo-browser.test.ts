import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, spawnEmbeddedPlatform, type SpawnedPlatform } from "../support/spawn-platform.js";

/**
 * The web chat demo in a real browser: Chromium from the system packages (no browser download
 * exists here), driven by playwright-core, against an embedded platform started with CAAS_DEMO=1.
 */
const CHROMIUM = process.env.CAAS_CHROMIUM ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** Where the run keeps the screenshot (docs/guide/img/demo.png is a copy of it). */
export const ARTIFACT_DIR = join(repoRoot, "test-results", "browser");

/** A short shutdown grace: the restart case stops the platform with browser connections open. */
const DEMO_ENV = { CAAS_DEMO: "1", CAAS_SHUTDOWN_GRACE_MS: "2000" };

let platform: SpawnedPlatform;
let browser: Browser;
let demoUrl: string;

beforeAll(async () => {
  platform = await spawnEmbeddedPlatform(DEMO_ENV);
  demoUrl = `${platform.info.endpoints.gateway}/demo/`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

/** A page signed in as `userId`, in its own browser context (its own storage), with the demo room open. */
async function signedIn(userId: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  await page.goto(demoUrl);
  await page.getByTestId(`pick-${userId}`).click();
  await page.getByTestId("conversation").filter({ hasText: "Demo room" }).click();
  await expect.poll(() => page.getByTestId("status").textContent(), { timeout: 15_000 }).toBe("connected");
  return { context, page };
}

const sendText = async (page: Page, text: string) => {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("composer").press("Enter");
};
const texts = (page: Page) => page.getByTestId("messages").getByTestId("text").allTextContents();
const committed = (page: Page) => page.locator('[data-testid="message"][data-state="sent"] [data-testid="text"]').allTextContents();

describe("the demo's server side", () => {
  it("prints its address at start, keeps its credentials private, and signs in demo users only", async () => {
    expect(readFileSync(platform.info.logFiles[0]!, "utf8")).toContain(`Web chat demo: ${demoUrl}`);
    expect(statSync(join(platform.info.dataDir, "demo", "credentials.json")).mode & 0o777).toBe(0o600);
    const users = (await (await fetch(`${demoUrl}api/users`)).json()) as { users: { userId: string }[] };
    expect(users.users.map((u) => u.userId)).toEqual(["alice", "bob", "carol"]);
    const post = (userId: string) => fetch(`${demoUrl}api/session`, { method: "POST", body: JSON.stringify({ userId }) });
    const ok = (await (await post("bob")).json()) as { userId: string; accessToken: string; refreshToken: string; apiKey?: string };
    expect(ok.userId).toBe("bob");
    expect(ok.accessToken.split(".")).toHaveLength(3);
    expect(Object.keys(ok).sort()).toEqual(["accessToken", "refreshToken", "userId"]);
    expect((await post("mallory")).status).toBe(400);
    // Only the built files are served: no way out of the static directory.
    expect((await fetch(`${demoUrl}..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${demoUrl}app.js`)).headers.get("content-type")).toContain("javascript");
  });
});

describe("web chat demo in Chromium", () => {
  it("two users exchange messages live; one goes offline and back; both see the same history", async () => {
    const alice = await signedIn("alice");
    const bob = await signedIn("bob");
    expect(await texts(alice.page)).toContain("Welcome to the CAAS demo! Open a second window as another user and say hello.");

    await sendText(alice.page, "hi bob, from alice");
    await expect.poll(() => texts(bob.page), { timeout: 15_000 }).toContain("hi bob, from alice");
    await bob.page.getByTestId("composer").pressSequentially("hey");
    await expect.poll(() => alice.page.getByTestId("typing").textContent(), { timeout: 15_000 }).toBe("bob is typing…");
    await bob.page.getByTestId("composer").press("Enter");
    await expect.poll(() => texts(alice.page), { timeout: 15_000 }).toContain("hey");
    // Bob's page has the room open and visible: it marks it read, and alice sees the receipt.
    await expect.poll(() => alice.page.getByTestId("seen").textContent(), { timeout: 15_000 }).toBe("Seen by bob");

    // Bob goes offline: his send waits in the queue (shown as pending), alice keeps writing.
    await bob.context.setOffline(true);
    await expect.poll(() => bob.page.getByTestId("status").textContent(), { timeout: 15_000 }).not.toBe("connected");
    await sendText(bob.page, "written while offline");
    await sendText(alice.page, "are you there?");
    await expect.poll(() => bob.page.locator('[data-testid="message"][data-state="pending"]').count()).toBe(1);
    await bob.context.setOffline(false);
    await expect.poll(() => bob.page.getByTestId("status").textContent(), { timeout: 20_000 }).toBe("connected");

    const want = ["hi bob, from alice", "hey", "are you there?", "written while offline"];
    for (const p of [alice.page, bob.page]) {
      await expect
        .poll(
          async () => {
            const all = await texts(p);
            return want.every((t) => all.includes(t));
          },
          { timeout: 20_000 },
        )
        .toBe(true);
      await expect.poll(() => p.locator('[data-testid="message"]:not([data-state="sent"])').count(), { timeout: 20_000 }).toBe(0);
    }
    const [a, b] = [await committed(alice.page), await committed(bob.page)];
    expect(a).toEqual(b);
    for (const t of want) expect(a.filter((x) => x === t)).toHaveLength(1);

    // Unread counts: bob writes in the DM while alice has the room open.
    await bob.page.getByTestId("conversation").filter({ hasText: "Direct message" }).click();
    await sendText(bob.page, "a word in private");
    const dm = alice.page.getByTestId("conversation").filter({ hasText: "Direct message" });
    await expect.poll(() => dm.getByTestId("unread").textContent(), { timeout: 15_000 }).toBe("1");

    mkdirSync(ARTIFACT_DIR, { recursive: true });
    await alice.page.screenshot({ path: join(ARTIFACT_DIR, "demo.png") });
    await dm.click();
    await expect.poll(() => texts(alice.page), { timeout: 15_000 }).toContain("a word in private");
    await expect.poll(() => dm.getByTestId("unread").count()).toBe(0);
    await alice.context.close();
    await bob.context.close();
  }, 120_000);

  it("reconnects after the server restarts and keeps chatting", async () => {
    const alice = await signedIn("alice");
    const bob = await signedIn("bob");
    const gatewayPort = new URL(platform.info.endpoints.gateway!).port;
    const dataDir = platform.info.dataDir;
    const credentials = () => readFileSync(join(dataDir, "demo", "credentials.json"), "utf8");
    const before = credentials();
    await platform.stop();
    await expect.poll(() => alice.page.getByTestId("status").textContent(), { timeout: 20_000 }).not.toBe("connected");
    await sendText(alice.page, "sent while the server was down");
    platform = await spawnEmbeddedPlatform({ ...DEMO_ENV, CAAS_DATA_DIR: dataDir, CAAS_GATEWAY_PORT: gatewayPort });
    // A later start reuses the demo tenant and key rather than making new ones.
    expect(credentials()).toBe(before);
    for (const p of [alice.page, bob.page]) {
      await expect.poll(() => p.getByTestId("status").textContent(), { timeout: 30_000 }).toBe("connected");
    }
    await expect.poll(() => committed(bob.page), { timeout: 20_000 }).toContain("sent while the server was down");
    await sendText(bob.page, "back online");
    await expect.poll(() => texts(alice.page), { timeout: 15_000 }).toContain("back online");
    const [a, b] = [await committed(alice.page), await committed(bob.page)];
    expect(a).toEqual(b);
    expect(a.filter((x) => x === "sent while the server was down")).toHaveLength(1);
    await alice.context.close();
    await bob.context.close();
  }, 120_000);
});
