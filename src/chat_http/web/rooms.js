// Conversations: the room list from the server, opening and closing a room, earlier messages (and going back to one
// a quote or a pin points at), the stretch of history around a found message and what came after it, new ones
// arriving, marking read, and catching up after the socket was away. roomlist.js, header.js and messages.js draw them.

import { $, toast } from "./dom.js";
import { afterRender, renderer } from "./render.js";
import { changed, dropRoom, isGroup, isMine, notify, setOpenRoom, store, takeMessage } from "./state.js";

const CATCH_UP_PAGE = 100;
const OLDER_PAGE = 50;
const JUMP_PAGES = 10; // a quoted or pinned message further back than this many pages is not looked for
const FLASH_MS = 1600;
const AROUND = 25; // messages loaded on each side of a found message further back than what is loaded

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
  if (s.roomId !== roomId || s.hasNewer) setOpenRoom(roomId); // back to the latest from a stretch of history
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
  reveal(s, messageId);
}

/**
 * Opens a room at one of its messages (a search hit): when it is not among those loaded, the messages around it
 * are, in place of the room's latest unless the two stretches meet ("Load newer messages" then leads back).
 */
export async function showMessage(roomId, messageId) {
  const s = store.session;
  if (!s) return;
  if (s.roomId !== roomId || !s.roomLoaded) await openRoom(roomId);
  if (store.session !== s || s.roomId !== roomId || !s.roomLoaded) return;
  if (!s.messages.has(messageId) && !(await loadAround(s, roomId, messageId))) return;
  reveal(s, messageId);
}

/** The messages just before and after `messageId` (itself included); false if it failed or the room was left. */
async function loadAround(s, roomId, messageId) {
  let older, newer;
  try {
    [older, newer] = await Promise.all([
      s.api.history(roomId, { beforeId: messageId + 1, perPage: AROUND + 1 }),
      s.api.history(roomId, { afterId: messageId, perPage: AROUND }),
    ]);
  } catch (error) {
    if (store.session === s) toast(`Could not load the messages around it: ${error.message}`);
    return false;
  }
  if (store.session !== s || s.roomId !== roomId) return false;
  if (!older.messages.some((message) => message.id === messageId)) {
    toast("That message is no longer there.");
    return false;
  }
  // each stretch holds every message between its first and last; it may go on before (hasOlder) and after
  const ids = (messages) => messages.map((message) => message.id);
  const aroundFrom = older.has_more ? Math.min(...ids(older.messages)) : -Infinity;
  const aroundTo = newer.has_more ? Math.max(...ids(newer.messages)) : Infinity;
  const loadedFrom = s.hasOlder ? Math.min(...s.messages.keys()) : -Infinity;
  const loadedTo = s.hasNewer ? Math.max(...s.messages.keys()) : Infinity;
  const meets = s.messages.size > 0 && aroundFrom <= loadedTo && loadedFrom <= aroundTo;
  if (meets) {
    s.hasOlder = s.hasOlder && older.has_more;
    s.hasNewer = s.hasNewer && newer.has_more;
  } else {
    s.messages = new Map(); // a stretch of its own, with a gap before what was loaded
    s.hasOlder = older.has_more;
    s.hasNewer = newer.has_more;
  }
  takePage(s, older);
  takePage(s, newer);
  s.pinned = false;
  changed("messages");
  return true;
}

/** The next page of a stretch of history: once it reaches the latest, live messages join it again. */
export async function loadNewer() {
  const s = store.session;
  const roomId = s?.roomId;
  if (!roomId || !s.hasNewer || !s.messages.size) return;
  try {
    let page = await s.api.history(roomId, { afterId: Math.max(...s.messages.keys()), perPage: OLDER_PAGE });
    if (store.session !== s || s.roomId !== roomId) return;
    takePage(s, page);
    if (!page.has_more) {
      // what came live while the last page was on its way was not kept: one more look finds it
      s.hasNewer = false;
      page = await s.api.history(roomId, { afterId: Math.max(...s.messages.keys()), perPage: CATCH_UP_PAGE });
      if (store.session !== s || s.roomId !== roomId) return;
      takePage(s, page);
      s.hasNewer = page.has_more;
    }
  } catch (error) {
    if (store.session === s) toast(`Could not load newer messages: ${error.message}`);
    return;
  }
  s.pinned = false; // stay where the reader is: what came is below
  changed("messages");
  maybeMarkRead();
}

function takePage(s, page) {
  for (const message of page.messages) if (!s.messages.has(message.id)) s.messages.set(message.id, message);
}

/** Scrolls to a loaded message of the open room and lights it up briefly. */
function reveal(s, messageId) {
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
  const sentHere = isMine(message) && s.pending.has(message.client_msg_id);
  const room = takeMessage(message, { live: true });
  if (!room) {
    loadRooms(); // a conversation someone just started with me
    return;
  }
  if (message.room_id === s.roomId && sentHere && s.hasNewer) {
    openRoom(s.roomId); // what I just sent, below the latest: not under the older stretch I was reading
  } else if (message.room_id === s.roomId) {
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
  if (s.hasNewer) return; // a stretch of history: "Load newer messages" brings what came after it
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
