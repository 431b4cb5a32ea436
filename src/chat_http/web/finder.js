// Searching messages: the sidebar's search panel (`data-action="finder"`) in place of the room list. What is typed
// is searched once typing pauses (the server allows a few searches a minute), the hits are grouped by room (the
// room of the newest hit first) with their matches marked, "More results" asks for older ones, and a click on a hit
// (`data-action="open-hit"`) opens its room at it: main.js hands that to rooms.js's showMessage.

import { $, formatWhen, h } from "./dom.js";
import { markedText, withNames } from "./parts.js";
import { afterRender, renderer } from "./render.js";
import { changed, isGroup, roomName, store } from "./state.js";

const SEARCH_DELAY_MS = 300;
const MIN_LENGTH = 2;
const PAGE = 20;
const KIND_LABEL = { image: "Photo", file: "File", voice: "Voice message" };

function emptyFinder() {
  return { query: "", hits: null, hasMore: false, cursor: null, problem: "", loading: false, seq: 0, timer: null };
}

export function toggleFinder() {
  const s = store.session;
  if (!s) return;
  if (s.finder) {
    closeFinder();
    return;
  }
  s.finder = emptyFinder();
  $("finder-input").value = "";
  changed("finder");
  afterRender(() => $("finder-input").focus());
}

export function closeFinder() {
  const s = store.session;
  if (!s?.finder) return;
  clearTimeout(s.finder.timer);
  s.finder = null;
  changed("finder");
}

/** Typing: a search once it pauses, none for fewer than two characters (the server would refuse most). */
export function onFinderInput() {
  const finder = store.session?.finder;
  if (!finder) return;
  clearTimeout(finder.timer);
  const query = $("finder-input").value.trim();
  if (query === finder.query && finder.hits) return;
  if (query.length < MIN_LENGTH) {
    Object.assign(finder, { ...emptyFinder(), seq: finder.seq + 1 }); // an answer still on its way is dropped
    changed("finder");
    return;
  }
  finder.timer = setTimeout(() => search(query), SEARCH_DELAY_MS);
}

/** Enter: at once, without waiting for the pause. */
export function submitFinder() {
  const finder = store.session?.finder;
  if (!finder) return;
  clearTimeout(finder.timer);
  const query = $("finder-input").value.trim();
  if (query.length >= MIN_LENGTH) search(query);
}

export function moreResults() {
  const finder = store.session?.finder;
  if (finder?.cursor && !finder.loading) search(finder.query, finder.cursor);
}

/** Only the answer to the latest question is shown; a next page is added to the hits shown. */
async function search(query, cursor = null) {
  const s = store.session;
  const finder = s.finder;
  const seq = ++finder.seq;
  finder.loading = true;
  if (!cursor) finder.query = query;
  changed("finder");
  let page;
  try {
    page = await s.api.searchMessages(query, { cursor, limit: PAGE });
  } catch (error) {
    if (store.session !== s || s.finder !== finder || seq !== finder.seq) return;
    Object.assign(finder, { loading: false, problem: error.message });
    if (!cursor) Object.assign(finder, { hits: [], hasMore: false, cursor: null });
    changed("finder");
    return;
  }
  if (store.session !== s || s.finder !== finder || seq !== finder.seq) return;
  const known = cursor ? finder.hits || [] : [];
  const seen = new Set(known.map((hit) => hit.message.id));
  Object.assign(finder, {
    loading: false,
    problem: "",
    hits: [...known, ...page.results.filter((hit) => !seen.has(hit.message.id))],
    hasMore: Boolean(page.has_more && page.next_cursor),
    cursor: page.next_cursor || null,
  });
  changed("finder");
}

renderer("finder", () => {
  const finder = store.session?.finder;
  $("finder").hidden = !finder;
  document.querySelector(".sidebar").classList.toggle("finding", Boolean(finder));
  $("finder-button").setAttribute("aria-expanded", String(Boolean(finder)));
  if (!finder) {
    $("finder-results").replaceChildren();
    return;
  }
  const parts = [];
  if (finder.problem) parts.push(h("p", { class: "finder-problem", role: "alert", text: finder.problem }));
  if (finder.hits === null) {
    parts.push(h("p", { class: "hint finder-hint", text: 'All words must match; "quotes" find a phrase.' }));
  } else if (finder.loading && !finder.hits.length) {
    parts.push(h("p", { class: "hint finder-hint", text: "Searching…" }));
  } else if (!finder.hits.length && !finder.problem) {
    parts.push(h("p", { class: "finder-empty", text: "No messages found" }));
  }
  for (const [roomId, hits] of byRoom(finder.hits || [])) parts.push(groupOf(roomId, hits));
  if (finder.hasMore) {
    parts.push(
      h("button", {
        type: "button",
        class: "load-older finder-more",
        dataset: { action: "finder-more" },
        disabled: finder.loading,
        text: finder.loading ? "Searching…" : "More results",
      }),
    );
  }
  $("finder-results").replaceChildren(...parts);
});

/** Hits by room, in the order of each room's newest hit (the server sends the newest first). */
function byRoom(hits) {
  const rooms = new Map();
  for (const hit of hits) {
    const roomId = hit.message.room_id;
    if (!rooms.has(roomId)) rooms.set(roomId, []);
    rooms.get(roomId).push(hit);
  }
  return rooms;
}

function groupOf(roomId, hits) {
  const room = store.session.rooms.get(roomId);
  const name = room ? roomName(room) : "A conversation";
  return h(
    "section",
    { class: "finder-group", dataset: { roomId, kind: room?.kind || "direct" } },
    h("h3", { class: `finder-room${isGroup(room) ? " group" : ""}`, text: name }),
    h(
      "ul",
      { class: "finder-hits" },
      hits.map((hit) => hitOf(hit, room)),
    ),
  );
}

function hitOf(hit, room) {
  const s = store.session;
  const message = hit.message;
  const who = message.sender_id === s.me.id ? "You" : message.sender_name || "Someone";
  const snippet = hit.snippet
    ? markedText(hit.snippet, hit.highlights, (part) => (room ? withNames(part, room) : part))
    : [KIND_LABEL[message.message_type] || ""];
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: "finder-hit",
        title: "Show in the conversation",
        dataset: { action: "open-hit", roomId: message.room_id, messageId: message.id },
      },
      h(
        "span",
        { class: "finder-top" },
        h("span", { class: "finder-sender", text: who }),
        h("time", { datetime: message.created_at, text: formatWhen(message.created_at) }),
      ),
      h("span", { class: "finder-snippet" }, snippet),
    ),
  );
}
