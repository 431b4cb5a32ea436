// Pins: pinning and unpinning a message (anyone in a direct room, a group's owner and admins), the open room's
// pinned-messages panel, and the socket's news of pins. The panel shows GET /rooms/{id}/pins, the latest pinned
// first, and asks again when a pin it does not show yet comes in; clicking one scrolls to it (rooms.js's jumpTo,
// wired by main.js).

import { $, formatWhen, h, toast } from "./dom.js";
import { textOf } from "./parts.js";
import { renderer } from "./render.js";
import { changed, nameIn, store, subscribe } from "./state.js";

const KIND_LABEL = { image: "Photo", file: "File", voice: "Voice message" };

export async function setPinned(messageId, pinned) {
  const s = store.session;
  if (!s) return;
  let message;
  try {
    message = pinned ? await s.api.pin(messageId) : await s.api.unpin(messageId);
  } catch (error) {
    if (store.session === s) toast(`Could not ${pinned ? "pin" : "unpin"} the message: ${error.message}`);
    return;
  }
  if (store.session !== s) return;
  applyPin(message.room_id, message.id, { pinned_by: message.pinned_by ?? null, pinned_at: message.pinned_at ?? null });
}

export function onMessagePinned({ room_id: roomId, message_id: messageId, user_id: userId, pinned_at: at }) {
  applyPin(roomId, messageId, { pinned_by: userId, pinned_at: at });
}

export function onMessageUnpinned({ room_id: roomId, message_id: messageId }) {
  applyPin(roomId, messageId, { pinned_by: null, pinned_at: null });
}

/** A message is pinned (or not, `pinned_at` null): its marker, and the panel if it is open on its room. */
function applyPin(roomId, messageId, pin) {
  const s = store.session;
  const message = roomId === s.roomId ? s.messages.get(messageId) : null;
  if (message && (message.pinned_at ?? null) !== pin.pinned_at) {
    s.messages.set(messageId, { ...message, ...pin });
    changed("messages");
  }
  const panel = s.pins;
  if (panel?.roomId !== roomId || panel.loading) return;
  const shown = panel.messages.find((m) => m.id === messageId);
  if (pin.pinned_at === null && shown) {
    panel.messages = panel.messages.filter((m) => m.id !== messageId);
    changed("pins");
  } else if (pin.pinned_at !== null && shown?.pinned_at !== pin.pinned_at) {
    fetchPins(s); // a message pinned anew, maybe not loaded here: the server has it whole
  }
}

// A deleted message loses its pin with its content.
subscribe("deleted", (messageId) => {
  const panel = store.session?.pins;
  if (!panel?.messages.some((m) => m.id === messageId)) return;
  panel.messages = panel.messages.filter((m) => m.id !== messageId);
  changed("pins");
});

export function togglePins() {
  const s = store.session;
  if (!s?.roomId) return;
  if (s.pins) {
    closePins();
    return;
  }
  s.pins = { roomId: s.roomId, loading: true, messages: [], seq: 0 };
  s.panel = false; // one side panel at a time
  s.reads = null;
  changed("pins", "group", "reads");
  fetchPins(s);
}

export function closePins() {
  const s = store.session;
  if (!s?.pins) return;
  s.pins = null;
  changed("pins");
}

/** Only the answer to the latest question is shown. */
async function fetchPins(s) {
  const panel = s.pins;
  const seq = ++panel.seq;
  let messages;
  try {
    ({ messages } = await s.api.pins(panel.roomId));
  } catch (error) {
    if (store.session !== s || s.pins !== panel || seq !== panel.seq) return;
    s.pins = null;
    toast(`Could not load the pinned messages: ${error.message}`);
    changed("pins");
    return;
  }
  if (store.session !== s || s.pins !== panel || seq !== panel.seq) return;
  Object.assign(panel, { loading: false, messages });
  changed("pins");
}

renderer("pins", () => {
  const s = store.session;
  const panel = s?.pins;
  $("pins").hidden = !panel;
  $("pins-button").setAttribute("aria-expanded", String(Boolean(panel)));
  if (!panel) return;
  if (panel.loading) {
    $("pins-body").replaceChildren(h("p", { class: "hint", text: "Loading…" }));
    return;
  }
  const room = s.rooms.get(panel.roomId);
  $("pins-body").replaceChildren(
    panel.messages.length
      ? h("ul", { id: "pins-list", class: "pins-list" }, panel.messages.map((message) => pinItem(message, room)))
      : h("p", { id: "pins-list", class: "hint", text: "No pinned messages yet" }),
  );
});

function pinItem(message, room) {
  const s = store.session;
  const who = message.sender_id === s.me.id ? "You" : message.sender_name || nameIn(room, message.sender_id);
  let body;
  if (message.is_deleted) body = h("span", { class: "deleted-text", text: "Message deleted" });
  else if (message.content) body = textOf(message.content, room, message.mentions, { links: false });
  else body = message.file_name || KIND_LABEL[message.message_type] || "";
  return h(
    "li",
    { class: "pin-item", dataset: { messageId: message.id } },
    h(
      "button",
      { type: "button", class: "pin-jump", title: "Show in the conversation", dataset: { action: "jump" } },
      h(
        "span",
        { class: "pin-top" },
        h("span", { class: "pin-sender", text: who }),
        h("time", { datetime: message.created_at, text: formatWhen(message.created_at) }),
      ),
      h("span", { class: "pin-text" }, body),
    ),
  );
}
