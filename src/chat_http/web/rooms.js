// The room list and the open room: loading, rendering, presence and typing shown, read marking.

import { $, avatar, formatTime, formatWhen, h, toast } from "./dom.js";
import { cancelEdit, stopTyping } from "./compose.js";
import { renderMessages } from "./messages.js";
import { store } from "./state.js";

const KIND_LABEL = { image: "Photo", file: "File", voice: "Voice message" };
const KIND_ICON = { image: "i-image", file: "i-file", voice: "i-mic" };

export async function loadRooms() {
  const s = store.session;
  let rooms;
  try {
    ({ rooms } = await s.api.rooms());
  } catch (error) {
    toast(`Could not load conversations: ${error.message}`);
    return;
  }
  if (s !== store.session) return;
  const fresh = new Map();
  for (const room of rooms) {
    const known = s.rooms.get(room.id);
    room.other_user.last_seen = known?.other_user.last_seen ?? null;
    if (room.id === s.roomId && document.visibilityState === "visible") room.unread_count = known?.unread_count ?? 0;
    fresh.set(room.id, room);
    if (room.last_message) s.seen.set(room.id, Math.max(s.seen.get(room.id) || 0, room.last_message.id));
  }
  s.rooms = fresh;
  renderRooms();
  renderHeader();
  maybeMarkRead();
}

function activity(room) {
  return Date.parse(room.last_message?.created_at || room.updated_at || room.created_at) || 0;
}

export function renderRooms() {
  const s = store.session;
  if (!s) return;
  const rooms = [...s.rooms.values()].sort((a, b) => activity(b) - activity(a) || b.id - a.id);
  $("rooms-empty").hidden = rooms.length > 0;
  $("rooms").replaceChildren(...rooms.map(roomItem));
  const unread = rooms.reduce((n, room) => n + (room.unread_count || 0), 0);
  document.title = `${unread ? `(${unread}) ` : ""}Chat · ${s.me.name}`;
}

export function presenceAvatar(user) {
  return h(
    "span",
    { class: "avatar-wrap" },
    avatar(user),
    h("span", { class: `presence${user.is_online ? " online" : ""}`, title: user.is_online ? "Online" : "Offline" }),
  );
}

function previewOf(room) {
  const last = room.last_message;
  if (!last) return ["No messages yet"];
  const mine = last.sender_name === store.session.me.name && last.sender_name !== room.other_user.name;
  const deleted = last.deleted || (last.content === null && last.message_type === "text");
  const icon = !deleted && KIND_ICON[last.message_type];
  const body = deleted ? "Message deleted" : last.content || KIND_LABEL[last.message_type] || "";
  return [mine ? "You: " : null, icon ? h("span", { class: `icon ${icon}`, "aria-hidden": "true" }) : null, body];
}

function roomItem(room) {
  const s = store.session;
  const typing = s.peerTyping.has(room.id);
  const unread = room.unread_count || 0;
  const classes = ["room-item", room.id === s.roomId && "active", unread && "unread"].filter(Boolean).join(" ");
  return h(
    "li",
    {},
    h(
      "button",
      { type: "button", class: classes, dataset: { roomId: room.id }, onclick: () => openRoom(room.id) },
      presenceAvatar(room.other_user),
      h(
        "span",
        { class: "room-main" },
        h(
          "span",
          { class: "room-top" },
          h("span", { class: "room-name", text: room.other_user.name }),
          h("span", { class: "room-time", text: formatWhen(room.last_message?.created_at || room.updated_at) }),
        ),
        h(
          "span",
          { class: "room-bottom" },
          h("span", { class: `room-preview${typing ? " typing" : ""}` }, typing ? "typing…" : previewOf(room)),
          unread ? h("span", { class: "badge", text: unread > 99 ? "99+" : unread, title: `${unread} unread` }) : null,
        ),
      ),
    ),
  );
}

export function showRoomPane(show) {
  $("placeholder").hidden = show;
  $("room").hidden = !show;
  document.body.classList.toggle("in-room", show);
}

export async function openRoom(roomId) {
  const s = store.session;
  if (!s) return;
  if (s.roomId !== roomId) {
    stopTyping();
    cancelEdit();
    s.roomId = roomId;
    s.messages = new Map();
    s.nodes = new Map();
    s.hasOlder = false;
    s.roomLoaded = false;
    s.pinned = true;
    $("message-list").replaceChildren();
  }
  showRoomPane(true);
  renderHeader();
  renderTyping();
  renderRooms();
  renderMessages();
  s.socket.send("join_room", { room_id: roomId });
  if (matchMedia("(pointer: fine)").matches) $("text").focus();
  let detail;
  try {
    detail = await s.api.room(roomId);
  } catch (error) {
    toast(`Could not open the conversation: ${error.message}`);
    return;
  }
  if (s !== store.session || s.roomId !== roomId) return;
  const { message_list: list, ...room } = detail;
  room.other_user.last_seen = s.rooms.get(roomId)?.other_user.last_seen ?? null;
  s.rooms.set(roomId, { ...s.rooms.get(roomId), ...room });
  for (const message of list.messages) s.messages.set(message.id, message);
  s.hasOlder = list.total > s.messages.size;
  s.roomLoaded = true;
  s.pinned = true;
  renderHeader();
  renderMessages();
  maybeMarkRead();
}

export function closeRoom() {
  const s = store.session;
  stopTyping();
  cancelEdit();
  if (s?.roomId) s.socket.send("leave_room", { room_id: s.roomId });
  if (s) {
    s.roomId = null;
    s.messages = new Map();
    s.nodes = new Map();
  }
  $("message-list").replaceChildren();
  showRoomPane(false);
  renderRooms();
}

export async function loadOlder() {
  const s = store.session;
  const roomId = s.roomId;
  if (!roomId || !s.messages.size) return;
  try {
    const page = await s.api.history(roomId, { beforeId: Math.min(...s.messages.keys()), perPage: 50 });
    if (store.session !== s || s.roomId !== roomId) return;
    for (const message of page.messages) s.messages.set(message.id, message);
    s.hasOlder = page.has_more;
    renderMessages({ keepOffset: true });
  } catch (error) {
    toast(`Could not load earlier messages: ${error.message}`);
  }
}

/** "09:12" today (formatWhen is then the time already), else "12 Mar, 09:12". */
function lastSeen(iso) {
  const when = formatWhen(iso);
  const time = formatTime(iso);
  return when === time ? time : `${when}, ${time}`;
}

export function renderHeader() {
  const s = store.session;
  const room = s?.rooms.get(s.roomId);
  if (!room) return;
  const peer = room.other_user;
  const typing = s.peerTyping.has(room.id);
  $("peer-avatar").replaceChildren(presenceAvatar(peer));
  $("peer-name").textContent = peer.name;
  $("peer-name").title = peer.email;
  const status = $("peer-status");
  status.dataset.state = typing ? "typing" : peer.is_online ? "online" : "offline";
  if (typing) status.textContent = "typing…";
  else if (peer.is_online) status.textContent = "Online";
  else if (peer.last_seen) status.textContent = `Last seen ${lastSeen(peer.last_seen)}`;
  else status.textContent = "Offline";
}

export function renderTyping() {
  const s = store.session;
  const room = s?.rooms.get(s.roomId);
  const typing = Boolean(room && s.peerTyping.has(room.id));
  const box = $("messages");
  const pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  $("typing").hidden = !typing;
  $("typing-text").textContent = typing ? `${room.other_user.name} is typing` : "";
  if (typing && pinned) box.scrollTop = box.scrollHeight;
  renderHeader();
  renderRooms();
}

export function roomIsRead(roomId) {
  const s = store.session;
  return roomId === s.roomId && document.visibilityState === "visible";
}

/** The open, visible room has messages to me that are not read: mark them read (the sender sees it). */
export function maybeMarkRead() {
  const s = store.session;
  const room = s?.rooms.get(s.roomId);
  if (!room || document.visibilityState !== "visible") return;
  const unreadHere = [...s.messages.values()].filter((m) => m.sender_id !== s.me.id && !m.is_read);
  if (!room.unread_count && !unreadHere.length) return;
  room.unread_count = 0;
  for (const message of unreadHere) message.is_read = true;
  renderRooms();
  clearTimeout(s.markReadTimer);
  s.markReadTimer = setTimeout(() => {
    if (store.session !== s) return;
    if (!s.socket.send("mark_read", { room_id: room.id })) s.api.markRead(room.id).catch(() => {});
  }, 150);
}
