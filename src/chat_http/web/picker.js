// The people picker: a new group (a name and at least two others), or more people for the open group. People are
// found by email as in the sidebar's search and picked one by one; the choices say what a click does
// (`data-action`: pick, unpick, picker-cancel) and main.js dispatches them.

import { findPeople } from "./api.js";
import { $, h, presenceAvatar, toast } from "./dom.js";
import { renderer } from "./render.js";
import { changed, store, subscribe } from "./state.js";

const SEARCH_DELAY_MS = 250;
const MIN_OTHERS = 2; // a group has at least three members, its creator included

/** Opens the picker: `mode` "create" (a new group) or "add" (people for the group `roomId`). */
export function openPicker(mode, roomId = null) {
  const s = store.session;
  if (!s) return;
  clearTimeout(s.picker?.timer);
  s.picker = { mode, roomId, picked: new Map(), found: null, seq: 0, timer: null, busy: false };
  $("picker-name").value = "";
  $("picker-search").value = mode === "create" ? $("search").value.trim() : "";
  changed("picker");
  onPickerInput();
  $(mode === "create" ? "picker-name" : "picker-search").focus();
}

export function closePicker() {
  const s = store.session;
  if (!s?.picker) return;
  clearTimeout(s.picker.timer);
  s.picker = null;
  changed("picker");
}

export function onPickerInput() {
  const picker = store.session?.picker;
  if (!picker) return;
  clearTimeout(picker.timer);
  const query = $("picker-search").value.trim();
  if (query.length < 2) {
    picker.seq += 1;
    picker.found = null;
    changed("picker");
    return;
  }
  picker.timer = setTimeout(() => search(picker, query), SEARCH_DELAY_MS);
}

async function search(picker, query) {
  const s = store.session;
  const seq = ++picker.seq;
  const { users, problem } = await findPeople(s.api, query);
  if (s.picker !== picker || seq !== picker.seq) return;
  picker.found = { users: users.filter((user) => user.id !== s.me.id), problem };
  changed("picker");
}

/** A person found is picked, or let go if they were. */
export function togglePick(userId) {
  const picker = store.session?.picker;
  const user = picker?.found?.users.find((found) => found.id === userId);
  if (!user || memberIds().has(userId)) return;
  if (picker.picked.has(userId)) picker.picked.delete(userId);
  else picker.picked.set(userId, user);
  changed("picker");
}

export function unpick(userId) {
  const picker = store.session?.picker;
  if (!picker) return;
  picker.picked.delete(userId);
  changed("picker");
}

/** Those already in the group being added to: offered, but not pickable. */
function memberIds() {
  const s = store.session;
  const room = s.picker?.mode === "add" ? s.rooms.get(s.picker.roomId) : null;
  return new Set((room?.members || []).map((member) => member.id));
}

function problemOf(picker) {
  if (picker.mode === "add") return picker.picked.size ? "" : "Pick the people to add.";
  const missing = MIN_OTHERS - picker.picked.size;
  if (missing > 0) return `Pick ${missing === MIN_OTHERS ? "at least two people" : "one more person"} for a group.`;
  if (!$("picker-name").value.trim()) return "Give the group a name.";
  return "";
}

/** Creates the group or adds the people; the new group's id (to open it), or null. */
export async function submitPicker() {
  const s = store.session;
  const picker = s?.picker;
  if (!picker || picker.busy || problemOf(picker)) return null;
  picker.busy = true;
  changed("picker");
  const ids = [...picker.picked.keys()];
  try {
    const room =
      picker.mode === "create"
        ? await s.api.createGroup($("picker-name").value.trim(), ids)
        : await s.api.addMembers(picker.roomId, ids);
    if (store.session !== s) return null;
    s.rooms.set(room.id, { ...(s.rooms.get(room.id) || {}), ...room });
    if (s.picker === picker) closePicker();
    $("search").value = "";
    changed("rooms", "header", "group");
    return picker.mode === "create" ? room.id : null;
  } catch (error) {
    const what = picker.mode === "create" ? "create the group" : "add them";
    toast(`Could not ${what}: ${error.message}`);
    picker.busy = false;
    changed("picker");
    return null;
  }
}

renderer("picker", () => {
  const picker = store.session?.picker;
  $("picker").hidden = !picker;
  document.body.classList.toggle("picking", Boolean(picker));
  if (!picker) return;
  const create = picker.mode === "create";
  const room = store.session.rooms.get(picker.roomId);
  $("picker-title").textContent = create ? "New group" : `Add people to ${room?.name || "the group"}`;
  $("picker-name-field").hidden = !create;
  $("picker-picked").replaceChildren(
    ...[...picker.picked.values()].map((user) =>
      h(
        "li",
        { class: "chip", dataset: { userId: user.id } },
        h("span", { text: user.name }),
        h(
          "button",
          { type: "button", class: "chip-remove", title: `Remove ${user.name}`, dataset: { action: "unpick" } },
          h("span", { class: "icon i-close", "aria-hidden": "true" }),
        ),
      ),
    ),
  );
  const members = memberIds();
  const items = (picker.found?.users || []).map((user) => {
    const member = members.has(user.id);
    const picked = picker.picked.has(user.id);
    return h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: `result${picked ? " picked" : ""}`,
          disabled: member,
          "aria-pressed": String(picked),
          dataset: { action: "pick", userId: user.id },
        },
        presenceAvatar(user),
        h(
          "span",
          { class: "result-text" },
          h("span", { class: "result-name", text: user.name }),
          h("span", { class: "result-email", text: member ? "Already in the group" : user.email }),
        ),
        h("span", { class: `pick-mark icon ${picked ? "i-check" : "i-plus"}`, "aria-hidden": "true" }),
      ),
    );
  });
  if (picker.found && !items.length)
    items.push(h("li", { class: "result-empty", text: picker.found.problem || "No one found with that email" }));
  $("picker-results").replaceChildren(...items);
  const problem = problemOf(picker);
  $("picker-hint").textContent = problem;
  $("picker-submit").disabled = Boolean(problem) || picker.busy;
  $("picker-submit").textContent = create ? "Create group" : `Add ${picker.picked.size || ""}`.trim();
});

// Adding to a group ends when another room opens (or this one closes, as when I am taken out of it).
subscribe("room", () => {
  if (store.session?.picker?.mode === "add") closePicker();
});
