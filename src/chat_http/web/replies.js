// Replying: the quote bar above the composer (what is being answered, and a button to stop) until the reply is
// sent. The quote in a sent reply, and scrolling to its original, are messages.js's and rooms.js's.

import { $ } from "./dom.js";
import { quoteFor, quoteOf } from "./parts.js";
import { renderer } from "./render.js";
import { changed, store, subscribe } from "./state.js";

function answered() {
  const s = store.session;
  const message = s?.replyTo ? s.messages.get(s.replyTo) : null;
  return message && !message.is_deleted ? message : null;
}

export function startReply(messageId) {
  const s = store.session;
  const message = s?.messages.get(messageId);
  if (!message || message.is_deleted || message.message_type === "system") return;
  s.replyTo = messageId;
  $("text").focus();
  changed("replying");
}

export function cancelReply() {
  const s = store.session;
  if (!s?.replyTo) return;
  s.replyTo = null;
  changed("replying");
}

/** What the message now sent answers ({reply_to_id, reply_to}), or null; the bar closes. */
export function takeReply() {
  const message = answered();
  cancelReply();
  return message ? { reply_to_id: message.id, reply_to: quoteFor(message) } : null;
}

renderer("replying", () => {
  const s = store.session;
  const message = answered();
  $("reply-banner").hidden = !message;
  if (!message) {
    $("reply-quote").replaceChildren();
    return;
  }
  $("reply-quote").replaceChildren(quoteOf(quoteFor(message), s.rooms.get(message.room_id)));
});

// The original was deleted (here or by its sender) while being answered: nothing is left to answer.
subscribe("deleted", (messageId) => {
  if (store.session?.replyTo === messageId) cancelReply();
});

// The original was edited while being answered: the bar shows it as it now is.
subscribe("messages", () => {
  if (store.session?.replyTo) changed("replying");
});
