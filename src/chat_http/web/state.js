// What belongs to one sign-in, and every change to it that more than one feature makes. A change is announced by
// topic: a part of the page to draw again ("rooms", "messages"...; render.js listens) or a fact other features
// react to ("room": another room was opened, "deleted": a message was deleted). Features never import each other.

const PEER_TYPING_EXPIRES_MS = 11000;

export function newSession(token) {
  return {
    token,
    api: null,
    socket: null,
    me: null,
    connection: "connecting", // the socket: connecting, online, reconnecting, offline
    rooms: new Map(), // room id -> room (as GET /rooms gives it, kept current by events)
    roomId: null, // the open room
    messages: new Map(), // the open room's messages by id
    hasOlder: false,
    hasNewer: false, // the open room shows a stretch of its history (around a found message), not its latest
    roomLoaded: false, // the open room's messages have come (GET /rooms/{id})
    seen: new Map(), // room id -> newest message id counted, so a message is never counted unread twice
    pending: new Map(), // client_msg_id -> a message on its way (uploading, sending, failed)
    peerTyping: new Map(), // room id -> {users: ids of the others typing there, timer: expiry}
    peerRead: new Map(), // room id -> newest message id the other person has read (direct rooms)
    memberRead: new Map(), // group id -> Map(user id -> newest message id they have read), as heard live
    panel: false, // the open group's member panel is shown
    picker: null, // the people picker (a new group, or people to add): {mode, roomId, picked, found, ...}
    reads: null, // who has read one of my group messages: {messageId, read_by, not_read_by} or {messageId, loading}
    pinned: true, // the message list is scrolled to the bottom
    typingRoom: null,
    typingSentAt: 0,
    typingIdle: null,
    editing: null,
    replyTo: null, // the message the composer answers (its id), or null
    reacting: null, // the message whose reaction picker is open, or null
    pins: null, // the open room's pinned-messages panel: {roomId, loading, messages}, or null
    mention: null, // the composer's @ autocomplete: {start, end, found: [members], active}, or null
    confirmDelete: null,
    confirmDeleteTimer: null,
    recorder: null,
    recordingTimer: null,
    markReadTimer: null,
    searchTimer: null,
    searchSeq: 0,
    found: null, // people search results shown: {users, problem}, or null
    finder: null, // the message search panel: {query, hits, hasMore, cursor, problem, loading, seq, timer}, or null
  };
}

/** `store.session` is the signed-in session, or null. */
export const store = { session: null };

const listeners = new Map(); // topic -> Set of functions

/** Calls `fn(detail)` each time `topic` is announced, at once (drawing is deferred by render.js, not here). */
export function subscribe(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
}

export function notify(topic, detail) {
  for (const fn of listeners.get(topic) || []) fn(detail);
}

/** These parts of the page show something that changed. */
export function changed(...parts) {
  for (const part of parts) notify(part);
}

/** Sign-out: the session's timers stop and its recording and previews are let go. */
export function endSession(s) {
  s.socket?.stop();
  s.recorder?.cancel();
  clearInterval(s.recordingTimer);
  const typingTimers = [...s.peerTyping.values()].map((typing) => typing.timer);
  for (const timer of [s.typingIdle, s.markReadTimer, s.searchTimer, s.confirmDeleteTimer, ...typingTimers])
    clearTimeout(timer);
  clearTimeout(s.picker?.timer);
  clearTimeout(s.finder?.timer);
  for (const pending of s.pending.values()) if (pending.view.preview) URL.revokeObjectURL(pending.view.preview);
}

export function isMine(message) {
  return message.sender_id === store.session.me.id;
}

export function isGroup(room) {
  return room?.kind === "group";
}

/** What a room is called: a group's own name, else the other person's. */
export function roomName(room) {
  return isGroup(room) ? room.name : room.other_user.name;
}

/** My card in a group (with my role), or undefined. */
export function myMembership(room) {
  return room?.members?.find((member) => member.id === store.session.me.id);
}

/** A member's name in this room, from its member cards (a group) or its other person (a direct room). */
export function nameIn(room, userId) {
  return personIn(room, userId) || "Someone";
}

/** A member's name in this room (me included), or null for someone who is not in it. */
export function personIn(room, userId) {
  const s = store.session;
  if (!isGroup(room)) {
    if (userId === s.me.id) return s.me.name;
    return room?.other_user?.id === userId ? room.other_user.name : null;
  }
  return room.members?.find((member) => member.id === userId)?.name || null;
}

/** Pins: anyone in a direct room; in a group, its owner and admins. */
export function mayPin(room) {
  if (!room) return false;
  if (!isGroup(room)) return true;
  const role = myMembership(room)?.role;
  return role === "owner" || role === "admin";
}

/** The room is open in a tab someone is looking at: what comes in is read at once. */
export function roomIsRead(roomId) {
  return roomId === store.session.roomId && document.visibilityState === "visible";
}

/** Another room (or none) is open: its messages start empty; "room" tells whoever holds room-bound state. */
export function setOpenRoom(roomId) {
  const s = store.session;
  s.roomId = roomId;
  s.messages = new Map();
  s.hasOlder = false;
  s.hasNewer = false;
  s.roomLoaded = false;
  s.pinned = true;
  s.panel = false;
  s.reads = null;
  s.replyTo = null;
  s.reacting = null;
  s.pins = null;
  s.mention = null;
  notify("room", roomId);
  changed("pane", "header", "typing", "rooms", "messages", "group", "reads", "replying", "pins", "mention");
}

function lastMessageOf(message) {
  return {
    id: message.id,
    content: message.content,
    message_type: message.message_type,
    created_at: message.created_at,
    sender_name: message.sender_name,
    sender_id: message.sender_id,
    deleted: message.is_deleted,
  };
}

/** A message from the server, live or fetched: into the room list, the open room, and off the pending list. */
export function takeMessage(message, { live }) {
  const s = store.session;
  const mine = isMine(message);
  if (mine && message.client_msg_id && s.pending.has(message.client_msg_id)) {
    const pending = s.pending.get(message.client_msg_id);
    if (pending.view.preview) setTimeout(() => URL.revokeObjectURL(pending.view.preview), 5000);
    s.pending.delete(message.client_msg_id);
  }
  const room = s.rooms.get(message.room_id);
  if (room) {
    if (!room.last_message || message.id >= room.last_message.id) {
      room.last_message = lastMessageOf(message);
      room.updated_at = message.created_at;
    }
    const counted = s.seen.get(room.id) || 0;
    const countable = !mine && message.message_type !== "system" && !message.is_read;
    if (live && countable && message.id > counted && !roomIsRead(room.id)) {
      room.unread_count += 1;
      if (message.mentions?.includes(s.me.id)) room.mention_count = (room.mention_count || 0) + 1;
    }
    s.seen.set(room.id, Math.max(counted, message.id));
  }
  const known = message.room_id === s.roomId ? s.messages.get(message.id) : undefined;
  // a stretch of older history is shown: what is newer than it comes with "Load newer messages", in order
  if (message.room_id === s.roomId && (known || !s.hasNewer)) {
    s.messages.set(message.id, known ? { ...known, ...message } : message);
  }
  if (message.room_id === s.roomId && !mine) stopPeerTyping(message.room_id, message.sender_id);
  return room;
}

/** An edit, from the socket or the answer to my own PUT. */
export function messageUpdated(message) {
  const s = store.session;
  const room = s.rooms.get(message.room_id);
  if (room?.last_message?.id === message.id) room.last_message = lastMessageOf(message);
  if (message.room_id === s.roomId && s.messages.has(message.id)) {
    s.messages.set(message.id, { ...s.messages.get(message.id), ...message });
    changed("messages");
  }
  const text = message.is_deleted ? null : message.content || message.file_name;
  requote(message.room_id, message.id, { preview: previewOf(text), is_deleted: Boolean(message.is_deleted) });
  changed("rooms");
}

/** What a reply shows of its original as the server words it: its first 120 characters, "…" if longer. */
export function previewOf(text, length = 120) {
  if (text === null || text === undefined) return null;
  const chars = Array.from(String(text));
  return chars.length > length ? `${chars.slice(0, length - 1).join("")}…` : chars.join("");
}

/** The open room's replies to `originalId` show it as it now is (the server does the same for what it sends). */
function requote(roomId, originalId, change) {
  const s = store.session;
  if (roomId !== s.roomId) return;
  let quoted = false;
  for (const [id, message] of s.messages) {
    if (message.reply_to?.id !== originalId) continue;
    s.messages.set(id, { ...message, reply_to: { ...message.reply_to, ...change } });
    quoted = true;
  }
  if (quoted) changed("messages");
}

/** A deletion, from the socket or my own DELETE: its content, reactions and pin go (as on the server). "deleted"
 * tells who may hold it: the composer editing or answering it, the pins panel. */
export function messageDeleted({ id, room_id: roomId }) {
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
      reactions: [],
      pinned_by: null,
      pinned_at: null,
    });
    changed("messages");
  }
  notify("deleted", id);
  requote(roomId, id, { preview: null, is_deleted: true });
  changed("rooms");
}

/** Others (`userIds`) are typing in `roomId` until they stop, send, go offline, or say nothing for a while. */
export function startPeerTyping(roomId, userIds) {
  const s = store.session;
  clearTimeout(s.peerTyping.get(roomId)?.timer);
  s.peerTyping.set(roomId, {
    users: [...userIds],
    timer: setTimeout(() => stopPeerTyping(roomId), PEER_TYPING_EXPIRES_MS),
  });
  changed("typing", "header", "rooms");
}

/** Nobody types in `roomId` any more; or, with `userId`, that person no longer does. */
export function stopPeerTyping(roomId, userId = null) {
  const s = store.session;
  const typing = s?.peerTyping.get(roomId);
  if (!typing) return;
  if (userId !== null) {
    if (!typing.users.includes(userId)) return;
    typing.users = typing.users.filter((id) => id !== userId);
  }
  if (userId === null || !typing.users.length) {
    clearTimeout(typing.timer);
    s.peerTyping.delete(roomId);
  }
  changed("typing", "header", "rooms");
}

/** Who is typing in `roomId`, as names: [] when nobody is. */
export function typingNames(roomId) {
  const s = store.session;
  const room = s.rooms.get(roomId);
  return (s.peerTyping.get(roomId)?.users || []).map((id) => nameIn(room, id));
}

/** "Ann is typing", "Ann and Ben are typing", "Ann, Ben and 2 others are typing". */
export function typingSentence(names) {
  if (names.length === 1) return `${names[0]} is typing`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]} are typing`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} others are typing`;
}

/** I am no longer in this group (removed, left, closed): it leaves the list, and closes if it was open. */
export function dropRoom(roomId) {
  const s = store.session;
  if (!s.rooms.has(roomId)) return;
  stopPeerTyping(roomId);
  s.rooms.delete(roomId);
  s.seen.delete(roomId);
  s.memberRead.delete(roomId);
  for (const [id, pending] of s.pending) if (pending.roomId === roomId) s.pending.delete(id);
  if (s.roomId === roomId) setOpenRoom(null);
  changed("rooms");
}
