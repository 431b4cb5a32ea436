// Server events from the socket, and what a (re)connect does: join, flush the outbox, catch up by after_id.

import { $, toast } from "./dom.js";
import { cancelEdit, failPending, flushPending } from "./compose.js";
import { isMine, renderMessages } from "./messages.js";
import { loadRooms, maybeMarkRead, renderHeader, renderRooms, renderTyping, roomIsRead } from "./rooms.js";
import { store } from "./state.js";

const PEER_TYPING_EXPIRES_MS = 11000;
const CATCH_UP_PAGE = 100;

function lastMessageOf(message) {
  return {
    id: message.id,
    content: message.content,
    message_type: message.message_type,
    created_at: message.created_at,
    sender_name: message.sender_name,
    deleted: message.is_deleted,
  };
}

/** A message from the server, live or fetched: into the room list, the open room, and off the pending list. */
function takeMessage(message, { live }) {
  const s = store.session;
  const mine = isMine(message);
  if (mine && message.client_msg_id && s.pending.has(message.client_msg_id)) {
    const pending = s.pending.get(message.client_msg_id);
    if (pending.view.preview) setTimeout(() => URL.revokeObjectURL(pending.view.preview), 5000);
    s.pending.delete(message.client_msg_id);
    s.nodes.delete(`p:${message.client_msg_id}`);
  }
  const room = s.rooms.get(message.room_id);
  if (room) {
    if (!room.last_message || message.id >= room.last_message.id) {
      room.last_message = lastMessageOf(message);
      room.updated_at = message.created_at;
    }
    const counted = s.seen.get(room.id) || 0;
    if (live && !mine && message.id > counted && !message.is_read && !roomIsRead(room.id)) room.unread_count += 1;
    s.seen.set(room.id, Math.max(counted, message.id));
  }
  if (message.room_id === s.roomId) {
    const known = s.messages.get(message.id);
    s.messages.set(message.id, known ? { ...known, ...message } : message);
    if (!mine) stopPeerTyping(message.room_id);
  }
  return room;
}

function onNewMessage(message) {
  const s = store.session;
  const room = takeMessage(message, { live: true });
  if (!room) {
    loadRooms(); // a conversation someone just started with me
    return;
  }
  if (message.room_id === s.roomId) {
    if (isMine(message)) s.pinned = true;
    renderMessages();
    maybeMarkRead();
  }
  renderRooms();
}

export function onMessageUpdated(message) {
  const s = store.session;
  const room = s.rooms.get(message.room_id);
  if (room?.last_message?.id === message.id) room.last_message = lastMessageOf(message);
  if (message.room_id === s.roomId && s.messages.has(message.id)) {
    s.messages.set(message.id, { ...s.messages.get(message.id), ...message });
    renderMessages();
  }
  renderRooms();
}

export function onMessageDeleted({ id, room_id: roomId }) {
  const s = store.session;
  const room = s.rooms.get(roomId);
  if (room?.last_message?.id === id) room.last_message = { ...room.last_message, content: null, deleted: true };
  const message = s.messages.get(id);
  if (roomId === s.roomId && message) {
    s.messages.set(id, {
      ...message,
      is_deleted: true,
      content: null,
      file_name: null,
      file_url: null,
      file_path: null,
      file_size: null,
    });
    if (s.editing === id) cancelEdit();
    renderMessages();
  }
  renderRooms();
}

function onMessagesRead({ room_id: roomId, user_id: userId, last_read_message_id: lastRead }) {
  const s = store.session;
  const room = s.rooms.get(roomId);
  if (!room) return;
  if (userId === s.me.id) {
    room.unread_count = 0; // read in another tab
    renderRooms();
    return;
  }
  s.peerRead.set(roomId, Math.max(s.peerRead.get(roomId) || 0, lastRead || 0));
  if (roomId === s.roomId) renderMessages();
}

function onTyping({ room_id: roomId, typing_users: typingUsers }) {
  const s = store.session;
  const room = s.rooms.get(roomId);
  if (!room) return;
  clearTimeout(s.peerTyping.get(roomId));
  if ((typingUsers || []).includes(room.other_user.id)) {
    s.peerTyping.set(
      roomId,
      setTimeout(() => stopPeerTyping(roomId), PEER_TYPING_EXPIRES_MS),
    );
  } else {
    s.peerTyping.delete(roomId);
  }
  renderTyping();
}

function stopPeerTyping(roomId) {
  const s = store.session;
  if (!s?.peerTyping.has(roomId)) return;
  clearTimeout(s.peerTyping.get(roomId));
  s.peerTyping.delete(roomId);
  renderTyping();
}

function onPresence({ user_id: userId, is_online: online, last_seen: lastSeen }) {
  const s = store.session;
  for (const room of s.rooms.values()) {
    if (room.other_user.id !== userId) continue;
    room.other_user.is_online = online;
    room.other_user.last_seen = lastSeen;
    if (!online) stopPeerTyping(room.id);
  }
  renderRooms();
  renderHeader();
}

function onServerError({ code, message, client_msg_id: clientMsgId }) {
  const s = store.session;
  const pending = clientMsgId && s.pending.get(clientMsgId);
  if (pending) {
    failPending(pending, code, message);
    return;
  }
  toast(code === "rate_limited" ? "Slow down a little: too many events at once." : message);
}

export function onEvent({ type, data }) {
  switch (type) {
    case "new_message":
      return onNewMessage(data);
    case "message_updated":
      return onMessageUpdated(data);
    case "message_deleted":
      return onMessageDeleted(data);
    case "messages_read":
      return onMessagesRead(data);
    case "typing":
      return onTyping(data);
    case "presence":
      return onPresence(data);
    case "error":
      return onServerError(data);
    default:
      return undefined;
  }
}

export function onSocketStatus(status) {
  const label = { online: "Online", connecting: "Connecting…", reconnecting: "Reconnecting…", offline: "Offline" };
  $("connection").dataset.status = status;
  $("connection").textContent = label[status] || status;
  document.body.dataset.connection = status;
  if (status !== "online") {
    const s = store.session;
    for (const roomId of [...s.peerTyping.keys()]) stopPeerTyping(roomId);
    s.typingRoom = null;
  }
}

/** The socket is subscribed (first connect or a reconnect): join the open room, send the outbox, catch up. */
export async function onSocketOpen() {
  const s = store.session;
  // The cursor is what arrived before this socket: the outbox's echoes, newer than what was missed, come next.
  const after = Math.max(0, ...s.messages.keys());
  if (s.roomId) s.socket.send("join_room", { room_id: s.roomId });
  flushPending();
  await catchUp(s, s.roomId, after);
}

/** Fresh rooms (unread, presence), then what the open room missed while the socket was away, by after_id. */
async function catchUp(s, roomId, from) {
  await loadRooms();
  if (!roomId || s.roomId !== roomId || !s.roomLoaded || s !== store.session) return; // a loading room gets it all
  let after = from;
  try {
    for (let round = 0; round < 100; round += 1) {
      const page = await s.api.history(roomId, { afterId: after, perPage: CATCH_UP_PAGE });
      if (s !== store.session || s.roomId !== roomId) return;
      for (const message of page.messages) {
        takeMessage(message, { live: false });
        after = Math.max(after, message.id);
      }
      if (!page.has_more || !page.messages.length) break;
    }
  } catch (error) {
    toast(`Could not fetch missed messages: ${error.message}`);
  }
  renderMessages();
  renderRooms();
  maybeMarkRead();
}
