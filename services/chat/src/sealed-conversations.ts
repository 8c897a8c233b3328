import { isSealed, open, seal, sealedKeyId } from "@caas/shared/sealing/box";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { MessageKeyring } from "./message-keyring.js";
import type { ConversationRecord, ConversationStore, MessageSummaryRecord } from "./ports/conversation-store.js";

/** Marks a preview stored sealed (base64 of the sealed bytes follows); a preview without it was stored before sealing existed. */
export const SEALED_PREVIEW_PREFIX = "\u0001sealed:";

/** What a stored preview is sealed for: it opens only as this conversation's preview in this tenant. */
function previewAad(tenantId: string, conversationId: string): string {
  return `preview|${tenantId}|${conversationId}`;
}

/** Seals a preview text for storage ("" stays "": it says nothing). */
export async function sealPreview(keys: MessageKeyring, tenantId: string, conversationId: string, text: string): Promise<string> {
  if (text === "") return "";
  const key = await keys.current(tenantId);
  return SEALED_PREVIEW_PREFIX + Buffer.from(seal(key, Buffer.from(text, "utf8"), previewAad(tenantId, conversationId))).toString("base64");
}

/** The key id a stored preview was sealed with; undefined for "" and plaintext previews. */
export function previewKeyId(stored: string): string | undefined {
  return stored.startsWith(SEALED_PREVIEW_PREFIX) ? sealedKeyId(Buffer.from(stored.slice(SEALED_PREVIEW_PREFIX.length), "base64")) : undefined;
}

/** A stored preview opened: "" when its key was destroyed. */
export async function openPreview(keys: MessageKeyring, tenantId: string, conversationId: string, stored: string): Promise<string> {
  if (!stored.startsWith(SEALED_PREVIEW_PREFIX)) return stored;
  const bytes = Buffer.from(stored.slice(SEALED_PREVIEW_PREFIX.length), "base64");
  const keyId = isSealed(bytes) ? sealedKeyId(bytes) : undefined;
  const key = keyId === undefined ? undefined : await keys.key(tenantId, keyId);
  return key ? Buffer.from(open(key, bytes, previewAad(tenantId, conversationId))).toString("utf8") : "";
}

/**
 * The conversation store with the last-message preview (a message's first 200 characters) sealed
 * at rest like the log entries (ADR 0120); every other field is metadata and stays as it was.
 * A preview whose key was destroyed reads as empty.
 */
export function sealedConversations(inner: ConversationStore, keys: MessageKeyring, opts: { sealWrites?: boolean } = {}): ConversationStore {
  const sealWrites = opts.sealWrites ?? true;
  const openSummary = async (tenantId: string, conversationId: string, m: MessageSummaryRecord): Promise<MessageSummaryRecord> => ({
    ...m,
    textPreview: await openPreview(keys, tenantId, conversationId, m.textPreview),
  });
  const openOne = async (scope: TenantScope, c: ConversationRecord): Promise<ConversationRecord> =>
    c.lastMessage && c.lastMessage.textPreview !== "" ? { ...c, lastMessage: await openSummary(scope.tenantId, c.id, c.lastMessage) } : c;
  const openAll = (scope: TenantScope, list: ConversationRecord[]): Promise<ConversationRecord[]> => Promise.all(list.map((c) => openOne(scope, c)));
  return {
    async create(scope, conversation) {
      const r = await inner.create(scope, conversation);
      return { ...r, conversation: await openOne(scope, r.conversation) };
    },
    async get(scope, id) {
      const c = await inner.get(scope, id);
      return c && openOne(scope, c);
    },
    getMany: async (scope, ids) => openAll(scope, await inner.getMany(scope, ids)),
    async recordEvent(scope, id, event) {
      const m = event.lastMessage;
      if (!sealWrites) return inner.recordEvent(scope, id, event);
      await inner.recordEvent(scope, id, m ? { ...event, lastMessage: { ...m, textPreview: await sealPreview(keys, scope.tenantId, id, m.textPreview) } } : event);
    },
    redactLastMessage: (scope, id, seqs) => inner.redactLastMessage(scope, id, seqs),
    replacePreview: (scope, id, seq, text) => inner.replacePreview(scope, id, seq, text),
    resetLastMessage: (scope, id) => inner.resetLastMessage(scope, id),
    applySettings: (scope, id, change) => inner.applySettings(scope, id, change),
    listByActivity: async (scope, query) => openAll(scope, await inner.listByActivity(scope, query)),
    listByChange: async (scope, query) => openAll(scope, await inner.listByChange(scope, query)),
    scan: async (scope, query) => openAll(scope, await inner.scan(scope, query)),
    close: () => inner.close(),
  };
}
