// Finding people by email, and starting a conversation with one of them (`data-action="start-chat"`) or a group
// (`data-action="new-group"`: the people picker, picker.js, takes the search over).

import { findPeople } from "./api.js";
import { $, h, presenceAvatar, toast } from "./dom.js";
import { renderer } from "./render.js";
import { changed, store } from "./state.js";

const SEARCH_DELAY_MS = 250;

renderer("search", () => {
  const found = store.session?.found;
  const results = $("search-results");
  results.hidden = !found;
  if (!found) return;
  const items = found.users.map((user) =>
    h(
      "li",
      {},
      h(
        "button",
        { type: "button", class: "result", dataset: { action: "start-chat", userId: user.id } },
        presenceAvatar(user),
        h(
          "span",
          { class: "result-text" },
          h("span", { class: "result-name", text: user.name }),
          h("span", { class: "result-email", text: user.email }),
        ),
      ),
    ),
  );
  const none = found.problem || "No one found with that email";
  if (!items.length) items.push(h("li", { class: "result-empty", text: none }));
  else items.push(newGroupEntry());
  results.replaceChildren(...items);
});

/** Several people to talk to at once: the people picker opens with this search (main.js's "new-group"). */
function newGroupEntry() {
  return h(
    "li",
    { class: "result-footer" },
    h(
      "button",
      { type: "button", class: "result new-group-entry", dataset: { action: "new-group" } },
      h("span", { class: "result-icon", "aria-hidden": "true" }, h("span", { class: "icon i-users-plus" })),
      h("span", { class: "result-name", text: "New group with people found here…" }),
    ),
  );
}

/** The results go away (a click elsewhere, a conversation started); what was typed stays. */
export function hideResults() {
  const s = store.session;
  if (!s?.found) return;
  s.found = null;
  changed("search");
}

export function clearSearch() {
  $("search").value = "";
  onSearchInput();
}

export function onSearchInput() {
  const s = store.session;
  if (!s) return;
  clearTimeout(s.searchTimer);
  const query = $("search").value.trim();
  if (query.length < 2) {
    s.searchSeq += 1;
    hideResults();
    return;
  }
  s.searchTimer = setTimeout(() => runSearch(query), SEARCH_DELAY_MS);
}

async function runSearch(query) {
  const s = store.session;
  const seq = ++s.searchSeq;
  const { users, problem } = await findPeople(s.api, query);
  if (store.session !== s || seq !== s.searchSeq) return;
  s.found = { users, problem };
  changed("search");
}

/** Opens (or finds) the room with this person; its id, or null if the server said no. */
export async function startChat(userId) {
  const s = store.session;
  try {
    const room = await s.api.openRoom(userId);
    if (store.session !== s) return null;
    room.other_user.last_seen = null;
    s.rooms.set(room.id, { ...(s.rooms.get(room.id) || {}), ...room });
    $("search").value = "";
    hideResults();
    return room.id;
  } catch (error) {
    toast(`Could not start the conversation: ${error.message}`);
    return null;
  }
}
