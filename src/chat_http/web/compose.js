// The composer's own work: telling the other side I am typing, editing a message, deleting one (after asking once
// more). Sending what is written is outbox.js's; main.js connects the form to both.

import { $, toast } from "./dom.js";
import { renderer } from "./render.js";
import { changed, messageDeleted, messageUpdated, store, subscribe } from "./state.js";

const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const CONFIRM_DELETE_MS = 4000;

export function onComposerInput() {
  const s = store.session;
  if (!s?.roomId || s.editing) return;
  if (!$("text").value.trim()) {
    stopTyping();
    return;
  }
  const now = Date.now();
  if (s.typingRoom !== s.roomId || now - s.typingSentAt > TYPING_SEND_EVERY_MS) {
    if (s.socket.send("typing", { room_id: s.roomId, is_typing: true })) {
      s.typingRoom = s.roomId;
      s.typingSentAt = now;
    }
  }
  clearTimeout(s.typingIdle);
  s.typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

export function stopTyping() {
  const s = store.session;
  if (!s) return;
  clearTimeout(s.typingIdle);
  if (s.typingRoom) s.socket.send("typing", { room_id: s.typingRoom, is_typing: false });
  s.typingRoom = null;
  s.typingSentAt = 0;
}

renderer("editing", () => {
  $("edit-banner").hidden = !store.session?.editing;
});

export function startEdit(messageId) {
  const s = store.session;
  const message = s.messages.get(messageId);
  if (!message || message.is_deleted) return;
  stopTyping();
  s.editing = messageId;
  $("text").value = message.content || "";
  $("text").focus();
  changed("editing", "messages");
}

export function cancelEdit() {
  const s = store.session;
  if (!s?.editing) return;
  s.editing = null;
  $("text").value = "";
  changed("editing", "messages");
}

export async function saveEdit(content) {
  const s = store.session;
  const messageId = s.editing;
  if (!content) return;
  try {
    const updated = await s.api.editMessage(messageId, content);
    if (store.session !== s) return;
    cancelEdit();
    messageUpdated(updated);
  } catch (error) {
    toast(`Could not edit the message: ${error.message}`);
  }
}

/** Delete asks once more: the first click arms the button for a few seconds, the second deletes. */
export function askDelete(messageId) {
  const s = store.session;
  clearTimeout(s.confirmDeleteTimer);
  if (s.confirmDelete !== messageId) {
    s.confirmDelete = messageId;
    s.confirmDeleteTimer = setTimeout(() => {
      s.confirmDelete = null;
      if (store.session === s) changed("messages");
    }, CONFIRM_DELETE_MS);
    changed("messages");
    return;
  }
  s.confirmDelete = null;
  deleteMessage(messageId);
}

async function deleteMessage(messageId) {
  const s = store.session;
  const message = s.messages.get(messageId);
  try {
    await s.api.deleteMessage(messageId);
    if (store.session === s && message) messageDeleted({ id: messageId, room_id: message.room_id });
  } catch (error) {
    toast(`Could not delete the message: ${error.message}`);
  }
}

// Another room: typing there ends, and an edit of one of its messages is dropped.
subscribe("room", () => {
  stopTyping();
  cancelEdit();
});

// The message being edited was deleted (here, in another tab, or by the server).
subscribe("deleted", (messageId) => {
  if (store.session?.editing === messageId) cancelEdit();
});
