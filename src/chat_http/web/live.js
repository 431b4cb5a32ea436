// What the socket says about people and itself: the other side typing, coming and going, reading; and whether
// this page is connected. main.js routes the socket's events here and to rooms.js, outbox.js and state.js.

import { $ } from "./dom.js";
import { renderer } from "./render.js";
import { changed, isGroup, notify, startPeerTyping, stopPeerTyping, store } from "./state.js";

const STATUS_LABEL = {
  online: "Online",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

export function onMessagesRead({ room_id: roomId, user_id: userId, last_read_message_id: lastRead }) {
  const s = store.session;
  const room = s.rooms.get(roomId);
  if (!room) return;
  if (userId === s.me.id) {
    room.unread_count = 0; // read in another tab
    room.mention_count = 0;
    changed("rooms");
    return;
  }
  if (isGroup(room)) {
    // each member's own marker: a message of mine is read once every other member who got it has read it
    if (!s.memberRead.has(roomId)) s.memberRead.set(roomId, new Map());
    const marks = s.memberRead.get(roomId);
    marks.set(userId, Math.max(marks.get(userId) || 0, lastRead || 0));
    notify("read", { roomId, userId });
  } else {
    s.peerRead.set(roomId, Math.max(s.peerRead.get(roomId) || 0, lastRead || 0));
  }
  if (roomId === s.roomId) changed("messages");
}

export function onTyping({ room_id: roomId, typing_users: typingUsers }) {
  const s = store.session;
  const room = s.rooms.get(roomId);
  if (!room) return;
  const others = isGroup(room)
    ? (typingUsers || []).filter((id) => id !== s.me.id && room.members?.some((member) => member.id === id))
    : (typingUsers || []).filter((id) => id === room.other_user.id);
  if (others.length) startPeerTyping(roomId, others);
  else stopPeerTyping(roomId);
}

export function onPresence({ user_id: userId, is_online: online, last_seen: lastSeen }) {
  const s = store.session;
  for (const room of s.rooms.values()) {
    const people = isGroup(room) ? room.members || [] : [room.other_user];
    const person = people.find((card) => card.id === userId);
    if (!person) continue;
    person.is_online = online;
    person.last_seen = lastSeen;
    if (!online) stopPeerTyping(room.id, userId);
  }
  changed("rooms", "header", "group");
}

renderer("connection", () => {
  const status = store.session?.connection;
  if (!status) return;
  $("connection").dataset.status = status;
  $("connection").textContent = STATUS_LABEL[status] || status;
  document.body.dataset.connection = status;
});

export function onSocketStatus(status) {
  const s = store.session;
  s.connection = status;
  changed("connection");
  if (status !== "online") {
    for (const roomId of [...s.peerTyping.keys()]) stopPeerTyping(roomId);
    s.typingRoom = null;
  }
}
