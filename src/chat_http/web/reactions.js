// Reactions: the picker under a message, the chips that toggle mine, and the socket's news of everyone's. Mine go
// through REST (PUT or DELETE /messages/{id}/reactions/{emoji}): a refusal (not an emoji, too many, a deleted
// message) is the answer to that request, said in a toast. A reaction is a set: hearing one twice (my own request's
// answer, then its event) changes nothing.

import { toast } from "./dom.js";
import { changed, store } from "./state.js";

export function toggleReactionPicker(messageId) {
  const s = store.session;
  if (!s?.messages.has(messageId)) return;
  s.reacting = s.reacting === messageId ? null : messageId;
  changed("messages");
}

export function closeReactionPicker() {
  const s = store.session;
  if (!s?.reacting) return;
  s.reacting = null;
  changed("messages");
}

/** From the picker or a chip: adds my reaction with `emoji`, or takes it back if I had it. */
export async function toggleReaction(messageId, emoji) {
  const s = store.session;
  const message = s?.messages.get(messageId);
  closeReactionPicker();
  if (!message || !emoji) return;
  const had = Boolean(message.reactions?.some((r) => r.emoji === emoji && r.user_ids.includes(s.me.id)));
  try {
    if (had) await s.api.removeReaction(messageId, emoji);
    else await s.api.addReaction(messageId, emoji);
  } catch (error) {
    if (store.session === s) toast(`Could not ${had ? "take back the" : "add the"} reaction: ${error.message}`);
    return;
  }
  // only my own change is applied from here: the message in the answer may be older than an event already heard
  if (store.session === s) applyReaction(message.room_id, messageId, emoji, s.me.id, !had);
}

export function onReactionAdded({ room_id: roomId, message_id: messageId, emoji, user_id: userId }) {
  applyReaction(roomId, messageId, emoji, userId, true);
}

export function onReactionRemoved({ room_id: roomId, message_id: messageId, emoji, user_id: userId }) {
  applyReaction(roomId, messageId, emoji, userId, false);
}

/** `userId` has (`on`) or has not a reaction `emoji` on a loaded message; a new emoji goes last. */
function applyReaction(roomId, messageId, emoji, userId, on) {
  const s = store.session;
  const message = roomId === s.roomId ? s.messages.get(messageId) : null;
  if (!message || typeof emoji !== "string") return;
  const reactions = (message.reactions || []).map((reaction) => ({ ...reaction, user_ids: [...reaction.user_ids] }));
  const found = reactions.find((reaction) => reaction.emoji === emoji);
  const has = Boolean(found?.user_ids.includes(userId));
  if (has === on) return;
  if (on && found) found.user_ids.push(userId);
  else if (on) reactions.push({ emoji, user_ids: [userId] });
  else found.user_ids = found.user_ids.filter((id) => id !== userId);
  s.messages.set(messageId, { ...message, reactions: reactions.filter((reaction) => reaction.user_ids.length) });
  changed("messages");
}
