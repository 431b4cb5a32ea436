// Conversations: the room list from the server, opening and closing a room, earlier messages (and going back to one
// a quote or a pin points at), new ones arriving, marking read, and catching up after the socket was away.
// roomlist.js, header.js and messages.js draw them.

import { $, toast } from "./dom.js";
import { afterRender, renderer } from "./render.js";
import { changed, dropRoom, isGroup, isMine, notify, setOpenRoom, store, takeMessage } from "./state.js";

const CATCH_UP_PAGE = 100;
const OLDER_PAGE = 50;
const JUMP_PAGES = 10; // a quoted or pinned message further back than this many pages is not looked for
const FLASH_MS = 1600;

export async function loadRooms() {
  const s = store.session;
  const before = new Set(s.rooms.keys());
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
    if (room.other_user) room.other_user.last_seen = known?.other_user?.last_seen ?? null;
    if (room.id === s.roomId && document.visibilityState === "visible") {
      room.unread_count = known?.unread_count ?? 0;
      room.mention_count = known?.mention_count ?? 0;
    }
    fresh.set(room.id, room);
    if (room.last_message) s.seen.set(room.id, Math.max(s.seen.get(room.id) || 0, room.last_message.id));
  }
  // a group I was taken out of while the socket was away: gone from the list, and closed if open; a room that
  // came while this list was on its way (a group I just made) stays
  const missing = [...s.rooms.values()].filter((room) => !fresh.has(room.id));
  const late = missing.filter((room) => !before.has(room.id));
  const gone = missing.filter((room) => before.has(room.id) && isGroup(room));
  s.rooms = new Map([...fresh, ...[...late, ...gone].map((room) => [room.id, room])]);
  for (const room of gone) dropRoom(room.id);
  changed("rooms", "header", "group");
  maybeMarkRead();
}

renderer("pane", () => {
  const show = Boolean(store.session?.roomId);
  $("placeholder").hidden = show;
  $("room").hidden = !show;
  document.body.classList.toggle("in-room", show);
});

export async function openRoom(roomId) {
  const s = store.session;
  if (!s) return;
  if (s.roomId !== roomId) setOpenRoom(roomId);
  else changed("pane", "header", "typing", "rooms", "messages");
  s.socket.send("join_room", { room_id: roomId });
  if (matchMedia("(pointer: fine)").matches) afterRender(() => $("text").focus());
  let detail;
  try {
    detail = await s.api.room(roomId);
  } catch (error) {
    toast(`Could not open the conversation: ${error.message}`);
    return;
  }
  if (s !== store.session || s.roomId !== roomId) return;
  const { message_list: list, ...room } = detail;
  if (room.other_user) room.other_user.last_seen = s.rooms.get(roomId)?.other_user?.last_seen ?? null;
  s.rooms.set(roomId, { ...s.rooms.get(roomId), ...room });
  for (const message of list.messages) s.messages.set(message.id, message);
  s.hasOlder = list.total > s.messages.size;
  s.roomLoaded = true;
  s.pinned = true;
  changed("header", "messages", "group");
  maybeMarkRead();
}

export function closeRoom() {
  const s = store.session;
  if (!s) return;
  const left = s.roomId;
  setOpenRoom(null); // typing stops and an edit is dropped before the server hears we left
  if (left) s.socket.send("leave_room", { room_id: left });
}

export async function loadOlder() {
  const s = store.session;
  if (s?.roomId) await fetchOlder(s, s.roomId);
}

/** One page of earlier messages: how many came, or null if it failed (said in a toast) or the room was left. */
async function fetchOlder(s, roomId) {
  if (!s.messages.size) return 0;
  try {
    const page = await s.api.history(roomId, { beforeId: Math.min(...s.messages.keys()), perPage: OLDER_PAGE });
    if (store.session !== s || s.roomId !== roomId) return null;
    for (const message of page.messages) s.messages.set(message.id, message);
    s.hasOlder = page.has_more;
    notify("messages", { keepOffset: true });
    return page.messages.length;
  } catch (error) {
    toast(`Could not load earlier messages: ${error.message}`);
    return null;
  }
}

/** Scrolls to a message of the open room and lights it up briefly, loading earlier pages (a few at most) first. */
export async function jumpTo(messageId) {
  const s = store.session;
  const roomId = s?.roomId;
  if (!roomId) return;
  for (let page = 0; !s.messages.has(messageId) && s.hasOlder && page < JUMP_PAGES; page += 1) {
    const came = await fetchOlder(s, roomId);
    if (came === null) return;
    if (!came) break;
  }
  if (store.session !== s || s.roomId !== roomId) return;
  if (!s.messages.has(messageId)) {
    toast("That message is too far back to show here.");
    return;
  }
  afterRender(() => {
    const item = $("message-list").querySelector(`li[data-id="${Number(messageId)}"]`);
    if (!item) return;
    item.scrollIntoView({ block: "center" });
    const box = $("messages");
    s.pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    item.classList.remove("flash");
    void item.offsetWidth; // a second jump to the same message lights it up again
    item.classList.add("flash");
    setTimeout(() => item.classList.remove("flash"), FLASH_MS);
  });
}

export function onNewMessage(message) {
  const s = store.session;
  const room = takeMessage(message, { live: true });
  if (!room) {
    loadRooms(); // a conversation someone just started with me
    return;
  }
  if (message.room_id === s.roomId) {
    if (isMine(message)) s.pinned = true;
    changed("messages");
    maybeMarkRead();
  }
  changed("rooms");
}

/** The open, visible room has messages to me that are not read: mark them read (the sender sees it). */
export function maybeMarkRead() {
  const s = store.session;
  const room = s?.rooms.get(s.roomId);
  if (!room || document.visibilityState !== "visible") return;
  const unreadHere = [...s.messages.values()].filter(
    (m) => m.sender_id !== s.me.id && !m.is_read && m.message_type !== "system",
  );
  if (!room.unread_count && !room.mention_count && !unreadHere.length) return;
  room.unread_count = 0;
  room.mention_count = 0;
  for (const message of unreadHere) message.is_read = true;
  changed("rooms");
  clearTimeout(s.markReadTimer);
  s.markReadTimer = setTimeout(() => {
    if (store.session !== s) return;
    if (!s.socket.send("mark_read", { room_id: room.id })) s.api.markRead(room.id).catch(() => {});
  }, 150);
}

/**
 * The socket is subscribed (first connect or a reconnect): join the open room, let `sendOutbox` send what waited,
 * catch up. The cursor is what arrived before this socket: the outbox's echoes, newer than what was missed, come next.
 */
export async function onSocketOpen(sendOutbox) {
  const s = store.session;
  const after = Math.max(0, ...s.messages.keys());
  if (s.roomId) s.socket.send("join_room", { room_id: s.roomId });
  sendOutbox();
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
  changed("messages", "rooms");
  maybeMarkRead();
}
