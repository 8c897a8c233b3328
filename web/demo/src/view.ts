/** A demo user's session as the page keeps it (sessionStorage: per tab, gone with the tab). */
export interface DemoSession {
  userId: string;
  accessToken: string;
  refreshToken: string;
}

/** Creates an element with attributes and children (strings become text). */
export function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

/** The first page: the demo users to choose from; signing in asks the gateway's demo endpoint. */
export async function renderPicker(root: HTMLElement, chosen: (s: DemoSession) => void): Promise<void> {
  const res = await fetch("/demo/api/users");
  const body = (await res.json()) as { users?: { userId: string; displayName: string }[]; error?: string };
  if (!res.ok || !body.users) {
    root.replaceChildren(el("div", { class: "picker" }, el("p", {}, body.error ?? `the demo is not available (${res.status})`)));
    return;
  }
  const buttons = body.users.map((u) => {
    const b = el("button", { "data-testid": `pick-${u.userId}` }, `${u.displayName} (${u.userId})`);
    b.onclick = async () => {
      const r = await fetch("/demo/api/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: u.userId }) });
      if (r.ok) chosen((await r.json()) as DemoSession);
    };
    return b;
  });
  root.replaceChildren(
    el(
      "div",
      { class: "picker" },
      el("h1", {}, "CAAS web chat demo"),
      el("p", { class: "muted" }, "Pick a demo user. Open another window (or a private one) as someone else to chat live."),
      ...buttons,
    ),
  );
}
