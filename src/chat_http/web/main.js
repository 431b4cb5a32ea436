// The chat page: sign-in, rooms, one conversation, and the live socket that keeps them current.
// Every piece of text from the server or another person goes into the page as a text node, never as HTML.

import { Api, ChatSocket, devToken } from "./api.js";
import {
  $, avatar, dayKey, formatDay, formatDuration, formatSize, formatTime, formatWhen, h, newId, reconcile, safeUrl,
} from "./dom.js";
import { canRecord, VoiceRecorder } from "./voice.js";

const TOKEN_KEY = "chatcore.token";
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const PEER_TYPING_EXPIRES_MS = 11000;
const CATCH_UP_PAGE = 100;
const MAX_RECORDING_SECONDS = 300;
const IMAGE_NAME = /\.(jpe?g|png|gif|webp)$/i;
const VOICE_NAME = /\.(ogg|mp3|wav|m4a|aac)$/i;
const KIND_LABEL = { image: "📷 Photo", file: "📎 File", voice: "🎤 Voice message" };

let session = null; // everything that belongs to one sign-in; replaced whole on sign-out

function newSession(token) {
  return {
    token,
    api: null,
    socket: null,
    me: null,
    rooms: new Map(), // room id -> room (as GET /rooms gives it, kept current by events)
    roomId: null, // the open room
    messages: new Map(), // the open room's messages by id
    hasOlder: false,
    seen: new Map(), // room id -> newest message id counted, so a message is never counted unread twice
    pending: new Map(), // client_msg_id -> a message on its way (uploading, sending, failed)
    nodes: new Map(), // rendered message elements, reused while unchanged
    peerTyping: new Map(), // room id -> expiry timer
    peerRead: new Map(), // room id -> newest message id the other person has read
    pinned: true, // the message list is scrolled to the bottom
    typingRoom: null,
    typingSentAt: 0,
    typingIdle: null,
    editing: null,
    confirmDelete: null,
    confirmDeleteTimer: null,
    recorder: null,
    recordingTimer: null,
    markReadTimer: null,
    searchTimer: null,
    searchSeq: 0,
  };
}

// -- sign-in ---------------------------------------------------------------------------------------

function showSignIn(message = "") {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  document.title = "Chat";
}

async function signIn(rawToken) {
  const token = rawToken.trim().replace(/^Bearer\s+/i, "");
  if (!token) return;
  const s = newSession(token);
  s.api = new Api(token, { onUnauthorized: () => session === s && signOut("Your session has ended. Sign in again.") });
  try {
    s.me = await s.api.me();
  } catch (error) {
    if (error.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(error.status === 401 ? "That token was not accepted: it is invalid or has expired." : error.message);
    return;
  }
  if (session) signOut();
  session = s;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token-input").value = "";
  $("signin").hidden = true;
  $("app").hidden = false;
  $("me-avatar").replaceChildren(avatar(s.me));
  $("me-name").textContent = s.me.name;
  $("me-name").title = s.me.email;
  document.title = `Chat · ${s.me.name}`;
  s.socket = new ChatSocket(token, {
    onEvent: (frame) => session === s && onEvent(frame),
    onOpen: (again) => session === s && onSocketOpen(again),
    onStatus: (status) => session === s && onSocketStatus(status),
    onAuthFailed: () => session === s && signOut("Your session has ended. Sign in again."),
  });
  s.socket.start();
  await loadRooms();
}

function signOut(message = "") {
  const s = session;
  session = null;
  if (s) {
    s.socket?.stop();
    s.recorder?.cancel();
    clearInterval(s.recordingTimer);
    for (const timer of [s.typingIdle, s.markReadTimer, s.searchTimer, s.confirmDeleteTimer, ...s.peerTyping.values()]) clearTimeout(timer);
    for (const pending of s.pending.values()) if (pending.view.preview) URL.revokeObjectURL(pending.view.preview);
  }
  sessionStorage.removeItem(TOKEN_KEY);
  $("rooms").replaceChildren();
  $("message-list").replaceChildren();
  $("search").value = "";
  $("search-results").hidden = true;
  $("recording").hidden = true;
  $("edit-banner").hidden = true;
  $("text").value = "";
  showRoomPane(false);
  showSignIn(message);
}

// -- rooms -----------------------------------------------------------------------------------------

async function loadRooms() {
  const s = session;
  let rooms;
  try {
    ({ rooms } = await s.api.rooms());
  } catch (error) {
    toast(`Could not load conversations: ${error.message}`);
    return;
  }
  if (s !== session) return;
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

function renderRooms() {
  const s = session;
  if (!s) return;
  const rooms = [...s.rooms.values()].sort((a, b) => activity(b) - activity(a) || b.id - a.id);
  $("rooms-empty").hidden = rooms.length > 0;
  $("rooms").replaceChildren(...rooms.map(roomItem));
  const unread = rooms.reduce((n, room) => n + (room.unread_count || 0), 0);
  document.title = `${unread ? `(${unread}) ` : ""}Chat · ${s.me.name}`;
}

function presenceAvatar(user) {
  return h(
    "span",
    { class: "avatar-wrap" },
    avatar(user),
    h("span", { class: `presence${user.is_online ? " online" : ""}`, title: user.is_online ? "Online" : "Offline" }),
  );
}

function previewOf(room) {
  const last = room.last_message;
  if (!last) return "No messages yet";
  const mine = last.sender_name === session.me.name && last.sender_name !== room.other_user.name;
  const body = last.deleted || (last.content === null && last.message_type === "text")
    ? "Message deleted"
    : last.content || KIND_LABEL[last.message_type] || "";
  return mine ? `You: ${body}` : body;
}

function roomItem(room) {
  const s = session;
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
          h("span", { class: `room-preview${typing ? " typing" : ""}`, text: typing ? "typing…" : previewOf(room) }),
          unread ? h("span", { class: "badge", text: unread > 99 ? "99+" : unread, title: `${unread} unread` }) : null,
        ),
      ),
    ),
  );
}

// -- one room --------------------------------------------------------------------------------------

function showRoomPane(show) {
  $("placeholder").hidden = show;
  $("room").hidden = !show;
  document.body.classList.toggle("in-room", show);
}

async function openRoom(roomId) {
  const s = session;
  if (!s) return;
  if (s.roomId !== roomId) {
    stopTyping();
    cancelEdit();
    s.roomId = roomId;
    s.messages = new Map();
    s.nodes = new Map();
    s.hasOlder = false;
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
  if (s !== session || s.roomId !== roomId) return;
  const { message_list: list, ...room } = detail;
  room.other_user.last_seen = s.rooms.get(roomId)?.other_user.last_seen ?? null;
  s.rooms.set(roomId, { ...s.rooms.get(roomId), ...room });
  for (const message of list.messages) s.messages.set(message.id, message);
  s.hasOlder = list.total > s.messages.size;
  s.pinned = true;
  renderHeader();
  renderMessages();
  maybeMarkRead();
}

function closeRoom() {
  const s = session;
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

function renderHeader() {
  const s = session;
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
  else if (peer.last_seen) status.textContent = `Last seen ${formatWhen(peer.last_seen)}, ${formatTime(peer.last_seen)}`;
  else status.textContent = "Offline";
}

function renderTyping() {
  const s = session;
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

function roomIsRead(roomId) {
  const s = session;
  return roomId === s.roomId && document.visibilityState === "visible";
}

/** The open, visible room has messages to me that are not read: mark them read (the sender sees it). */
function maybeMarkRead() {
  const s = session;
  const room = s?.rooms.get(s.roomId);
  if (!room || document.visibilityState !== "visible") return;
  const unreadHere = [...s.messages.values()].filter((m) => m.sender_id !== s.me.id && !m.is_read);
  if (!room.unread_count && !unreadHere.length) return;
  room.unread_count = 0;
  for (const message of unreadHere) message.is_read = true;
  renderRooms();
  clearTimeout(s.markReadTimer);
  s.markReadTimer = setTimeout(() => {
    if (session !== s) return;
    if (!s.socket.send("mark_read", { room_id: room.id })) s.api.markRead(room.id).catch(() => {});
  }, 150);
}

// -- messages --------------------------------------------------------------------------------------

function renderMessages({ keepOffset = false } = {}) {
  const s = session;
  if (!s) return;
  const box = $("messages");
  const fromBottom = box.scrollHeight - box.scrollTop;
  const nodes = [];
  let lastDay = null;
  const sorted = [...s.messages.values()].sort((a, b) => a.id - b.id);
  let previous = null;
  for (const message of sorted) {
    const day = dayKey(message.created_at);
    if (day !== lastDay) {
      nodes.push(dayNode(message.created_at));
      lastDay = day;
      previous = null;
    }
    nodes.push(messageNode(message, previous));
    previous = message;
  }
  const now = new Date().toISOString();
  for (const [id, pending] of s.pending) {
    if (pending.roomId !== s.roomId) continue;
    if (dayKey(now) !== lastDay) {
      nodes.push(dayNode(now));
      lastDay = dayKey(now);
    }
    nodes.push(pendingNode(id, pending));
  }
  reconcile($("message-list"), nodes);
  $("load-older").hidden = !s.hasOlder;
  if (keepOffset) box.scrollTop = box.scrollHeight - fromBottom;
  else if (s.pinned) box.scrollTop = box.scrollHeight;
}

function cachedNode(id, key, build) {
  const s = session;
  const cached = s.nodes.get(id);
  if (cached && cached.key === key) return cached.el;
  const el = build();
  s.nodes.set(id, { key, el });
  return el;
}

function dayNode(iso) {
  const label = formatDay(iso);
  return cachedNode(`day:${dayKey(iso)}`, label, () => h("li", { class: "day" }, h("span", { text: label })));
}

function isMine(message) {
  return message.sender_id === session.me.id;
}

function isReadByPeer(message) {
  return message.is_read || (session.peerRead.get(message.room_id) || 0) >= message.id;
}

function messageNode(message, previous) {
  const s = session;
  const mine = isMine(message);
  const read = mine && isReadByPeer(message);
  const grouped = Boolean(previous && previous.sender_id === message.sender_id && !previous.is_deleted
    && Date.parse(message.created_at) - Date.parse(previous.created_at) < 5 * 60 * 1000);
  const key = JSON.stringify([
    message.is_deleted, message.content, message.is_edited, message.file_name, read, grouped, s.editing === message.id,
    s.confirmDelete === message.id,
  ]);
  return cachedNode(`m:${message.id}`, key, () => buildMessage(message, { mine, read, grouped }));
}

function buildMessage(message, { mine, read, grouped }) {
  const s = session;
  const classes = ["msg", mine ? "mine" : "theirs", `kind-${message.message_type}`];
  if (grouped) classes.push("grouped");
  if (message.is_deleted) classes.push("deleted");
  if (s.editing === message.id) classes.push("editing");
  const bubble = h("div", { class: "bubble" });
  if (message.is_deleted) {
    bubble.append(h("span", { class: "deleted-text", text: "This message was deleted" }));
  } else {
    const media = mediaOf(message);
    if (media) bubble.append(media);
    if (message.content) bubble.append(h("p", { class: "text", text: message.content }));
  }
  bubble.append(metaOf(message, { mine, read }));
  const item = h("li", { class: classes.join(" "), dataset: { id: message.id, state: mine ? (read ? "read" : "sent") : "" } });
  item.append(bubble);
  if (mine && !message.is_deleted) item.append(actionsOf(message));
  return item;
}

function mediaOf(message) {
  const url = safeUrl(message.file_url);
  const name = message.file_name || "file";
  if (message.message_type === "image" && url) {
    const img = h("img", { class: "image", src: url, alt: name, loading: "lazy", decoding: "async" });
    img.addEventListener("load", keepPinned);
    return h("a", { class: "image-link", href: url, target: "_blank", rel: "noopener noreferrer", title: name }, img);
  }
  if (message.message_type === "voice" && url) {
    return h(
      "div",
      { class: "voice" },
      h("audio", { controls: true, preload: "metadata", src: url }),
      h("a", { class: "voice-name", href: url, download: name, rel: "noopener noreferrer", text: name }),
    );
  }
  if (message.message_type !== "text") {
    return h(
      "a",
      { class: "file-card", href: url || null, download: name, target: "_blank", rel: "noopener noreferrer" },
      h("span", { class: "file-icon", "aria-hidden": "true" }, h("span", { class: "icon i-file" })),
      h(
        "span",
        { class: "file-text" },
        h("span", { class: "file-name", text: name }),
        h("span", { class: "file-size", text: formatSize(message.file_size) }),
      ),
    );
  }
  return null;
}

function metaOf(message, { mine, read }) {
  const meta = h("span", { class: "meta" });
  if (message.is_edited && !message.is_deleted) meta.append(h("span", { class: "edited", text: "edited" }));
  meta.append(h("time", { datetime: message.created_at, text: formatTime(message.created_at) }));
  if (mine && !message.is_deleted) {
    meta.append(
      h("span", { class: `status ${read ? "read" : "sent"}`, title: read ? "Read" : "Sent", "aria-label": read ? "Read" : "Sent" },
        h("span", { class: `icon ${read ? "i-checks" : "i-check"}`, "aria-hidden": "true" })),
    );
  }
  return meta;
}

function actionsOf(message) {
  const actions = h("div", { class: "actions" });
  if (message.message_type === "text") {
    actions.append(
      h("button", { type: "button", class: "action edit", title: "Edit", "aria-label": "Edit message", onclick: () => startEdit(message.id) },
        h("span", { class: "icon i-edit", "aria-hidden": "true" })),
    );
  }
  const armed = session.confirmDelete === message.id;
  actions.append(
    h("button", {
      type: "button", class: `action delete${armed ? " armed" : ""}`, title: armed ? "Click again to delete" : "Delete",
      "aria-label": armed ? "Confirm delete" : "Delete message", onclick: () => onDeleteClick(message.id),
    }, h("span", { class: "icon i-trash", "aria-hidden": "true" }), h("span", { class: "confirm-text", text: "Delete?" })),
  );
  return actions;
}

/** Delete asks once more: the first click arms the button for a few seconds, the second deletes. */
function onDeleteClick(messageId) {
  const s = session;
  clearTimeout(s.confirmDeleteTimer);
  if (s.confirmDelete !== messageId) {
    s.confirmDelete = messageId;
    s.confirmDeleteTimer = setTimeout(() => {
      s.confirmDelete = null;
      if (session === s) renderMessages();
    }, 4000);
    renderMessages();
    return;
  }
  s.confirmDelete = null;
  deleteMessage(messageId);
}

function pendingNode(id, pending) {
  const progress = pending.progress === null ? null : Math.round(pending.progress * 50) * 2;
  const key = JSON.stringify([pending.state, pending.error, progress, pending.view.content]);
  return cachedNode(`p:${id}`, key, () => {
    const view = pending.view;
    const bubble = h("div", { class: "bubble" });
    if (view.message_type === "image" && view.preview) {
      const img = h("img", { class: "image", src: view.preview, alt: view.file_name });
      img.addEventListener("load", keepPinned);
      bubble.append(h("span", { class: "image-link" }, img));
    } else if (view.message_type !== "text") {
      bubble.append(h("span", { class: "file-card" },
        h("span", { class: "file-icon", "aria-hidden": "true" }, h("span", { class: `icon ${view.message_type === "voice" ? "i-mic" : "i-file"}` })),
        h("span", { class: "file-text" }, h("span", { class: "file-name", text: view.file_name }),
          h("span", { class: "file-size", text: formatSize(view.file_size) }))));
    }
    if (view.content) bubble.append(h("p", { class: "text", text: view.content }));
    const meta = h("span", { class: "meta" });
    if (pending.state === "failed") {
      meta.append(
        h("span", { class: "failed", text: pending.error || "Not sent" }),
        h("button", { type: "button", class: "link retry", onclick: () => retryPending(id), text: "Retry" }),
        h("button", { type: "button", class: "link discard", onclick: () => discardPending(id), text: "Discard" }),
      );
    } else if (pending.state === "uploading") {
      meta.append(h("progress", { max: 100, value: progress ?? 0 }), h("span", { text: `Uploading ${progress ?? 0}%` }));
    } else {
      meta.append(h("span", { class: "status sending", title: "Sending", "aria-label": "Sending" },
        h("span", { class: "icon i-clock", "aria-hidden": "true" })));
    }
    bubble.append(meta);
    return h("li", { class: `msg mine pending kind-${view.message_type}`, dataset: { cmid: id, state: pending.state } }, bubble);
  });
}

function keepPinned() {
  if (session?.pinned) $("messages").scrollTop = $("messages").scrollHeight;
}

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
  const s = session;
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
  const s = session;
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

function onMessageUpdated(message) {
  const s = session;
  const room = s.rooms.get(message.room_id);
  if (room?.last_message?.id === message.id) room.last_message = lastMessageOf(message);
  if (message.room_id === s.roomId && s.messages.has(message.id)) {
    s.messages.set(message.id, { ...s.messages.get(message.id), ...message });
    renderMessages();
  }
  renderRooms();
}

function onMessageDeleted({ id, room_id: roomId }) {
  const s = session;
  const room = s.rooms.get(roomId);
  if (room?.last_message?.id === id) room.last_message = { ...room.last_message, content: null, deleted: true };
  const message = s.messages.get(id);
  if (roomId === s.roomId && message) {
    s.messages.set(id, {
      ...message, is_deleted: true, content: null, file_name: null, file_url: null, file_path: null, file_size: null,
    });
    if (s.editing === id) cancelEdit();
    renderMessages();
  }
  renderRooms();
}

function onMessagesRead({ room_id: roomId, user_id: userId, last_read_message_id: lastRead }) {
  const s = session;
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
  const s = session;
  const room = s.rooms.get(roomId);
  if (!room) return;
  clearTimeout(s.peerTyping.get(roomId));
  if ((typingUsers || []).includes(room.other_user.id)) {
    s.peerTyping.set(roomId, setTimeout(() => stopPeerTyping(roomId), PEER_TYPING_EXPIRES_MS));
  } else {
    s.peerTyping.delete(roomId);
  }
  renderTyping();
}

function stopPeerTyping(roomId) {
  const s = session;
  if (!s?.peerTyping.has(roomId)) return;
  clearTimeout(s.peerTyping.get(roomId));
  s.peerTyping.delete(roomId);
  renderTyping();
}

function onPresence({ user_id: userId, is_online: online, last_seen: lastSeen }) {
  const s = session;
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
  const s = session;
  const pending = clientMsgId && s.pending.get(clientMsgId);
  if (pending) {
    pending.state = "failed";
    pending.error = message;
    renderMessages();
    return;
  }
  toast(code === "rate_limited" ? "Slow down a little: too many events at once." : message);
}

function onEvent({ type, data }) {
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

// -- the socket coming and going ---------------------------------------------------------------------

function onSocketStatus(status) {
  const label = { online: "Online", connecting: "Connecting…", reconnecting: "Reconnecting…", offline: "Offline" };
  $("connection").dataset.status = status;
  $("connection").textContent = label[status] || status;
  document.body.dataset.connection = status;
  if (status !== "online") {
    const s = session;
    for (const roomId of [...s.peerTyping.keys()]) stopPeerTyping(roomId);
    s.typingRoom = null;
  }
}

async function onSocketOpen(again) {
  const s = session;
  if (s.roomId) s.socket.send("join_room", { room_id: s.roomId });
  flushPending();
  if (again) await catchUp(s);
}

/** After a reconnect: fresh rooms (unread, presence), then what the open room missed, by after_id. */
async function catchUp(s) {
  await loadRooms();
  const roomId = s.roomId;
  if (!roomId || s !== session) return;
  let after = Math.max(0, ...s.messages.keys());
  try {
    for (let round = 0; round < 100; round += 1) {
      const page = await s.api.history(roomId, { afterId: after, perPage: CATCH_UP_PAGE });
      if (s !== session || s.roomId !== roomId) return;
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

// -- sending ---------------------------------------------------------------------------------------

function flushPending() {
  const s = session;
  for (const [id, pending] of s.pending) {
    if (pending.data && pending.state === "sending") s.socket.send("send_message", { ...pending.data, client_msg_id: id });
  }
}

function sendPending(id) {
  const s = session;
  const pending = s.pending.get(id);
  if (!pending?.data) return;
  pending.state = "sending";
  pending.error = null;
  pending.progress = null;
  s.socket.send("send_message", { ...pending.data, client_msg_id: id }); // else flushPending sends it on reconnect
  renderMessages();
}

function sendText(content) {
  const s = session;
  const id = newId();
  s.pending.set(id, {
    roomId: s.roomId,
    data: { room_id: s.roomId, message_type: "text", content },
    view: { message_type: "text", content },
    state: "sending",
    error: null,
    progress: null,
  });
  s.pinned = true;
  sendPending(id);
}

function kindOf(file) {
  if (IMAGE_NAME.test(file.name)) return "image";
  if (VOICE_NAME.test(file.name)) return "voice";
  return "file";
}

/** Files go through POST /uploads (streamed, with progress), then send_message carries the upload_id. */
function sendFile(file, kind = kindOf(file)) {
  const s = session;
  if (!s?.roomId) return;
  const id = newId();
  s.pending.set(id, {
    roomId: s.roomId,
    data: null,
    file,
    view: {
      message_type: kind,
      file_name: file.name,
      file_size: file.size,
      preview: kind === "image" ? URL.createObjectURL(file) : null,
    },
    state: "uploading",
    error: null,
    progress: 0,
  });
  s.pinned = true;
  upload(id);
}

async function upload(id) {
  const s = session;
  const pending = s.pending.get(id);
  pending.state = "uploading";
  pending.error = null;
  pending.progress = 0;
  renderMessages();
  try {
    const reply = await s.api.upload(pending.file, pending.view.file_name, (fraction) => {
      pending.progress = fraction;
      if (session === s) renderMessages();
    });
    if (session !== s || !s.pending.has(id)) return;
    pending.data = { room_id: pending.roomId, message_type: reply.message_type, upload_id: reply.upload_id };
    pending.view.message_type = reply.message_type;
    sendPending(id);
  } catch (error) {
    if (session !== s || !s.pending.has(id)) return;
    pending.state = "failed";
    pending.error = error.message;
    renderMessages();
  }
}

function retryPending(id) {
  const pending = session?.pending.get(id);
  if (!pending) return;
  if (pending.data) sendPending(id);
  else upload(id);
}

function discardPending(id) {
  const s = session;
  const pending = s.pending.get(id);
  if (pending?.view.preview) URL.revokeObjectURL(pending.view.preview);
  s.pending.delete(id);
  s.nodes.delete(`p:${id}`);
  renderMessages();
}

// -- typing, editing, deleting -----------------------------------------------------------------------

function onComposerInput() {
  const s = session;
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

function stopTyping() {
  const s = session;
  if (!s) return;
  clearTimeout(s.typingIdle);
  if (s.typingRoom) s.socket.send("typing", { room_id: s.typingRoom, is_typing: false });
  s.typingRoom = null;
  s.typingSentAt = 0;
}

function startEdit(messageId) {
  const s = session;
  const message = s.messages.get(messageId);
  if (!message || message.is_deleted) return;
  stopTyping();
  s.editing = messageId;
  $("edit-banner").hidden = false;
  $("text").value = message.content || "";
  $("text").focus();
  renderMessages();
}

function cancelEdit() {
  const s = session;
  if (!s?.editing) return;
  s.editing = null;
  $("edit-banner").hidden = true;
  $("text").value = "";
  renderMessages();
}

async function saveEdit(content) {
  const s = session;
  const messageId = s.editing;
  if (!content) return;
  try {
    const updated = await s.api.editMessage(messageId, content);
    if (session !== s) return;
    cancelEdit();
    onMessageUpdated(updated);
  } catch (error) {
    toast(`Could not edit the message: ${error.message}`);
  }
}

async function deleteMessage(messageId) {
  const s = session;
  const message = s.messages.get(messageId);
  try {
    await s.api.deleteMessage(messageId);
    if (session === s && message) onMessageDeleted({ id: messageId, room_id: message.room_id });
  } catch (error) {
    toast(`Could not delete the message: ${error.message}`);
  }
}

// -- voice notes -----------------------------------------------------------------------------------

async function startRecording() {
  const s = session;
  if (!s?.roomId || s.recorder) return;
  if (!canRecord()) {
    $("voice-input").click();
    return;
  }
  try {
    s.recorder = await VoiceRecorder.start();
  } catch {
    toast("The microphone is not available here; pick a voice file instead.");
    $("voice-input").click();
    return;
  }
  $("recording").hidden = false;
  $("rec-time").textContent = "0:00";
  s.recordingTimer = setInterval(() => {
    const seconds = s.recorder?.seconds || 0;
    $("rec-time").textContent = formatDuration(seconds);
    if (seconds >= MAX_RECORDING_SECONDS) finishRecording(true);
  }, 250);
}

async function finishRecording(send) {
  const s = session;
  const recorder = s?.recorder;
  if (!recorder) return;
  s.recorder = null;
  clearInterval(s.recordingTimer);
  $("recording").hidden = true;
  if (!send) {
    recorder.cancel();
    return;
  }
  const file = await recorder.stop();
  if (file.size < 64) {
    toast("Nothing was recorded.");
    return;
  }
  sendFile(file, "voice");
}

// -- search ----------------------------------------------------------------------------------------

function onSearchInput() {
  const s = session;
  if (!s) return;
  clearTimeout(s.searchTimer);
  const query = $("search").value.trim();
  if (query.length < 2) {
    s.searchSeq += 1;
    $("search-results").hidden = true;
    return;
  }
  s.searchTimer = setTimeout(() => runSearch(query), 250);
}

async function runSearch(query) {
  const s = session;
  const seq = ++s.searchSeq;
  let users = [];
  let problem = "";
  try {
    ({ users } = await s.api.searchUsers(query));
  } catch (error) {
    problem = error.message;
  }
  if (session !== s || seq !== s.searchSeq) return;
  const results = $("search-results");
  const items = users.map((user) =>
    h(
      "li",
      {},
      h(
        "button",
        { type: "button", class: "result", dataset: { userId: user.id }, onclick: () => startChat(user) },
        presenceAvatar(user),
        h("span", { class: "result-text" }, h("span", { class: "result-name", text: user.name }),
          h("span", { class: "result-email", text: user.email })),
      ),
    ));
  if (!items.length) items.push(h("li", { class: "result-empty", text: problem || "No one found with that email" }));
  results.replaceChildren(...items);
  results.hidden = false;
}

async function startChat(user) {
  const s = session;
  try {
    const room = await s.api.openRoom(user.id);
    if (session !== s) return;
    room.other_user.last_seen = null;
    s.rooms.set(room.id, { ...(s.rooms.get(room.id) || {}), ...room });
    $("search").value = "";
    $("search-results").hidden = true;
    await openRoom(room.id);
  } catch (error) {
    toast(`Could not start the conversation: ${error.message}`);
  }
}

// -- small things ----------------------------------------------------------------------------------

let toastTimer = null;

function toast(message) {
  const box = $("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.hidden = true;
  }, 5000);
}

async function loadOlder() {
  const s = session;
  const roomId = s.roomId;
  if (!roomId || !s.messages.size) return;
  try {
    const page = await s.api.history(roomId, { beforeId: Math.min(...s.messages.keys()), perPage: 50 });
    if (session !== s || s.roomId !== roomId) return;
    for (const message of page.messages) s.messages.set(message.id, message);
    s.hasOlder = page.has_more;
    renderMessages({ keepOffset: true });
  } catch (error) {
    toast(`Could not load earlier messages: ${error.message}`);
  }
}

function onFilesPicked(input, kind) {
  for (const file of [...input.files]) sendFile(file, kind);
  input.value = "";
}

function wire() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("token-input").value);
  });
  $("dev-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("dev-error").textContent = "";
    try {
      const { token } = await devToken($("dev-email").value.trim(), $("dev-name").value.trim());
      await signIn(token);
    } catch (error) {
      $("dev-error").textContent = error.message;
    }
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("search").addEventListener("input", onSearchInput);
  $("search").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      $("search").value = "";
      onSearchInput();
    }
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest?.(".search")) $("search-results").hidden = true;
  });
  $("back").addEventListener("click", closeRoom);
  $("load-older").addEventListener("click", loadOlder);
  $("messages").addEventListener("scroll", () => {
    const box = $("messages");
    if (session) session.pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  });
  const text = $("text");
  text.addEventListener("input", onComposerInput);
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    } else if (event.key === "Escape") {
      cancelEdit();
    }
  });
  text.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return;
    event.preventDefault();
    for (const file of files) sendFile(file);
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const s = session;
    if (!s?.roomId) return;
    const content = text.value.trim();
    if (s.editing) {
      saveEdit(content);
      return;
    }
    if (!content) return;
    text.value = "";
    stopTyping();
    sendText(content);
  });
  $("edit-cancel").addEventListener("click", cancelEdit);
  $("file-input").addEventListener("change", (event) => onFilesPicked(event.target));
  $("voice-input").addEventListener("change", (event) => onFilesPicked(event.target, "voice"));
  $("mic").addEventListener("click", startRecording);
  $("rec-cancel").addEventListener("click", () => finishRecording(false));
  $("rec-send").addEventListener("click", () => finishRecording(true));
  const pane = $("conversation");
  pane.addEventListener("dragover", (event) => {
    if (!session?.roomId || !event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    $("drop-hint").hidden = false;
  });
  pane.addEventListener("dragleave", (event) => {
    if (!pane.contains(event.relatedTarget)) $("drop-hint").hidden = true;
  });
  pane.addEventListener("drop", (event) => {
    $("drop-hint").hidden = true;
    if (!session?.roomId || !event.dataTransfer?.files.length) return;
    event.preventDefault();
    for (const file of [...event.dataTransfer.files]) sendFile(file);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible" || !session) return;
    session.socket.reconnectNow();
    maybeMarkRead();
  });
  window.addEventListener("online", () => session?.socket.reconnectNow());
}

function boot() {
  wire();
  $("dev-form").hidden = document.body.dataset.dev !== "true";
  // An HR system may open /chat#token=<jwt>: the fragment never reaches a server log.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromLink = fragment.get("token");
  if (fromLink) history.replaceState(null, "", location.pathname + location.search);
  const token = fromLink || sessionStorage.getItem(TOKEN_KEY);
  if (token) signIn(token);
  else showSignIn();
}

boot();
