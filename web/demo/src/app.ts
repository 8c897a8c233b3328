// The CAAS web chat demo: pick a demo user, then chat live through @caas/client over the
// gateway that serves this page (same origin: Connect calls and /ws).
import { createCaasClient, localStorageOutbox, type CaasClient, type ConversationView, type Event, type Message, type QueuedSend } from "@caas/client/browser";
import { el, renderPicker, type DemoSession } from "./view.js";

const SESSION_KEY = "caas-demo-session";
const app = document.getElementById("app")!;

interface Room {
  view: ConversationView;
  messages: Map<string, Message>;
  unread: number;
  /** Other members' read positions (receipts). */
  readBy: Map<string, bigint>;
  typing: Map<string, number>;
}

const saved = sessionStorage.getItem(SESSION_KEY);
if (saved) void start(JSON.parse(saved) as DemoSession);
else
  void renderPicker(app, (s) => {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
    void start(s);
  });

async function start(session: DemoSession): Promise<void> {
  const refresher = createCaasClient({ baseUrl: location.origin });
  const client: CaasClient = createCaasClient({
    baseUrl: location.origin,
    accessToken: session.accessToken,
    refresh: async () => {
      const { tokens } = await refresher.auth.refreshToken({ refreshToken: session.refreshToken });
      session.accessToken = tokens!.accessToken;
      session.refreshToken = tokens!.refreshToken;
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
      return session.accessToken;
    },
    realtime: { outboxStore: localStorageOutbox(`caas-demo-outbox-${session.userId}`), backoff: { initialMs: 250, maxMs: 5000 } },
  });
  const me = session.userId;
  const rooms = new Map<string, Room>();
  let current: string | undefined;

  // Layout.
  const status = el("div", { class: "status", "data-testid": "status" }, "connecting…");
  const list = el("ul", { class: "conversations", "data-testid": "conversations" });
  const title = el("header", { "data-testid": "title" }, "");
  const messages = el("div", { class: "messages", "data-testid": "messages" });
  const typing = el("div", { class: "typing", "data-testid": "typing" });
  const input = el("input", { placeholder: "Write a message", "data-testid": "composer", autocomplete: "off" }) as HTMLInputElement;
  const form = el("form", { class: "composer" }, input, el("button", { type: "submit" }, "Send"));
  const signOut = el("button", { style: "margin-top:6px;font-size:12px" }, "switch user");
  signOut.onclick = () => {
    sessionStorage.removeItem(SESSION_KEY);
    client.realtime.stop();
    location.reload();
  };
  app.replaceChildren(
    el(
      "div",
      { class: "shell" },
      el("aside", { class: "side" }, el("header", {}, el("div", { class: "me", "data-testid": "me" }, `Signed in as ${me}`), status, signOut), list),
      el("section", { class: "chat" }, title, messages, typing, form),
    ),
  );

  const nameOf = (v: ConversationView) => v.conversation?.title || "Direct message";
  const renderList = () => {
    list.replaceChildren(
      ...[...rooms.values()].map((r) => {
        const id = r.view.conversation!.id;
        const last = [...r.messages.values()].at(-1);
        const li = el(
          "li",
          { class: id === current ? "active" : "", "data-testid": "conversation", "data-id": id },
          el("div", {}, el("div", {}, nameOf(r.view)), el("div", { class: "preview" }, last ? `${last.senderId}: ${last.text}` : "")),
          r.unread > 0 ? el("span", { class: "badge", "data-testid": "unread" }, String(r.unread)) : "",
        );
        li.onclick = () => void open(id);
        return li;
      }),
    );
  };

  const renderMessages = () => {
    const room = current ? rooms.get(current) : undefined;
    if (!room) return;
    title.textContent = nameOf(room.view);
    const sorted = [...room.messages.values()].sort((a, b) => (a.seq < b.seq ? -1 : 1));
    const committed = new Set(sorted.map((m) => m.clientMessageId));
    const pending = client.realtime.pending().filter((p) => p.conversationId === current && !committed.has(p.clientMessageId));
    const lastMine = [...sorted].reverse().find((m) => m.senderId === me);
    const seenBy = lastMine ? [...room.readBy].filter(([u, seq]) => u !== me && seq >= lastMine.seq).map(([u]) => u) : [];
    messages.replaceChildren(
      ...sorted.map((m) =>
        el(
          "div",
          { class: `message${m.senderId === me ? " mine" : ""}`, "data-testid": "message", "data-state": "sent", "data-seq": String(m.seq) },
          m.senderId === me ? "" : el("div", { class: "sender" }, m.senderId),
          el("div", { "data-testid": "text" }, m.text),
          m === lastMine && seenBy.length > 0 ? el("div", { class: "meta", "data-testid": "seen" }, `Seen by ${seenBy.join(", ")}`) : "",
        ),
      ),
      ...pending.map((p: QueuedSend) =>
        el(
          "div",
          { class: "message mine", "data-testid": "message", "data-state": failed.has(p.clientMessageId) ? "failed" : "pending" },
          el("div", { "data-testid": "text" }, p.text),
          el("div", { class: "meta" }, "sending…"),
        ),
      ),
    );
    messages.scrollTop = messages.scrollHeight;
  };
  const failed = new Set<string>();

  const renderTyping = () => {
    const room = current ? rooms.get(current) : undefined;
    const now = Date.now();
    const who = room ? [...room.typing].filter(([, until]) => until > now).map(([u]) => u) : [];
    typing.textContent = who.length ? `${who.join(", ")} ${who.length > 1 ? "are" : "is"} typing…` : "";
  };
  setInterval(renderTyping, 1000);

  const markRead = (room: Room) => {
    const last = [...room.messages.values()].reduce((m, x) => (x.seq > m ? x.seq : m), 0n);
    room.unread = 0;
    if (last > 0n && document.visibilityState === "visible") {
      client.chat.markRead({ conversationId: room.view.conversation!.id, seq: last }).catch(() => undefined);
    }
  };

  async function open(id: string) {
    current = id;
    const room = rooms.get(id)!;
    markRead(room);
    renderList();
    renderMessages();
    renderTyping();
    input.focus();
  }

  // Load: conversations with unread counts, then each one's recent history (which seeds the
  // realtime session's ordering, so live events continue exactly after it).
  async function load() {
    const { conversations } = await client.chat.listConversations({ pageSize: 50 });
    for (const view of conversations) {
      const id = view.conversation!.id;
      const { messages: recent } = await client.chat.listMessages({ conversationId: id, pageSize: 50 });
      const room: Room = rooms.get(id) ?? { view, messages: new Map(), unread: 0, readBy: new Map(), typing: new Map() };
      room.view = view;
      room.unread = view.readState?.unreadCount ?? 0;
      for (const m of recent) room.messages.set(m.id, m);
      rooms.set(id, room);
      client.realtime.seed(id, view.conversation!.lastSeq);
    }
    renderList();
    if (!current && rooms.size > 0) await open([...rooms.keys()][0]!);
  }

  const onEvent = (e: Event) => {
    const room = rooms.get(e.conversationId);
    if (!room) return void load();
    if (e.payload.case === "messageCreated" && e.payload.value.message) {
      const m = e.payload.value.message;
      room.messages.set(m.id, m);
      room.typing.delete(m.senderId);
      if (m.senderId !== me) {
        if (e.conversationId === current && document.visibilityState === "visible") markRead(room);
        else room.unread++;
      }
    }
    renderList();
    if (e.conversationId === current) {
      renderMessages();
      renderTyping();
    }
  };

  client.realtime.on("event", onEvent);
  client.realtime.on("state", (s) => {
    status.dataset.state = s;
    status.textContent = s === "open" ? "connected" : s === "waiting" ? "reconnecting…" : s;
  });
  client.realtime.on("typing", (t) => {
    const room = rooms.get(t.conversationId);
    if (!room) return;
    if (t.started) room.typing.set(t.userId, t.expireTime ? Number(t.expireTime.seconds) * 1000 : Date.now() + 6000);
    else room.typing.delete(t.userId);
    renderTyping();
  });
  client.realtime.on("receipt", (r) => {
    const room = rooms.get(r.conversationId);
    if (!room) return;
    room.readBy.set(r.userId, r.lastReadSeq);
    if (r.conversationId === current) renderMessages();
  });
  client.realtime.on("sent", () => renderMessages());
  client.realtime.on("sendFailed", ({ item }) => {
    failed.add(item.clientMessageId);
    renderMessages();
  });

  let typingSent = 0;
  input.addEventListener("input", () => {
    if (!current || Date.now() - typingSent < 3000) return;
    typingSent = Date.now();
    client.realtime.setTyping(current, true);
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text || !current) return;
    input.value = "";
    typingSent = 0;
    client.realtime.setTyping(current, false);
    // Optimistic: it shows as pending at once and turns into the committed message by its id.
    client.realtime.send({ conversationId: current, text });
    renderMessages();
  });
  document.addEventListener("visibilitychange", () => {
    const room = current ? rooms.get(current) : undefined;
    if (room && document.visibilityState === "visible") {
      markRead(room);
      renderList();
    }
  });

  try {
    await load();
  } catch (err) {
    status.textContent = `could not load: ${String(err)}`;
  }
  // After a reconnect (e.g. the server restarted), refresh the list's unread counts.
  client.realtime.on("synced", () => void load().catch(() => undefined));
  client.realtime.start();
}
