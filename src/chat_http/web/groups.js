// The open group's panel (its name, its members with their roles and presence, and what my role lets me do: rename,
// add, remove, change roles, leave), who has read one of my messages there, and the socket's news of groups
// (members_changed, room_updated). Buttons say what they do in `data-action`; main.js dispatches them.

import { $, h, presenceAvatar, toast } from "./dom.js";
import { renderer } from "./render.js";
import { changed, dropRoom, isGroup, myMembership, stopPeerTyping, store, subscribe } from "./state.js";

const ROLE_LABEL = { owner: "Owner", admin: "Admin", member: "" };
const CONFIRM_LEAVE_MS = 4000;

let leaveArmed = null; // the room whose "Leave group" was clicked once, waiting for the second click
let leaveTimer = null;

function openGroup() {
  const s = store.session;
  const room = s?.rooms.get(s.roomId);
  return isGroup(room) ? room : null;
}

export function toggleGroupPanel() {
  const s = store.session;
  if (!openGroup()) return;
  s.panel = !s.panel;
  s.reads = null;
  changed("group", "reads");
}

export function closeGroupPanel() {
  const s = store.session;
  if (!s?.panel) return;
  s.panel = false;
  changed("group");
}

/** Everything but the name field, which keeps what is being typed in it. */
renderer("group", () => {
  const s = store.session;
  const room = openGroup();
  const shown = Boolean(room && s.panel);
  const wasHidden = $("group-panel").hidden;
  $("group-panel").hidden = !shown;
  $("group-info").setAttribute("aria-expanded", String(shown));
  if (!shown) return;
  const me = myMembership(room);
  const managing = me?.role === "owner" || me?.role === "admin";
  $("rename-form").hidden = !managing;
  const input = $("group-name");
  if (wasHidden || document.activeElement !== input) input.value = room.name;
  $("add-people").hidden = !managing;
  const members = [...(room.members || [])].sort(byRole);
  $("member-count").textContent = `${members.length} member${members.length === 1 ? "" : "s"}`;
  $("members").replaceChildren(...members.map((member) => memberItem(member, me)));
  const armed = leaveArmed === room.id;
  $("leave-group").textContent = armed ? "Click again to leave" : "Leave group";
  $("leave-group").classList.toggle("armed", armed);
});

const RANK = { owner: 0, admin: 1, member: 2 };

function byRole(a, b) {
  return RANK[a.role] - RANK[b.role] || a.name.localeCompare(b.name) || a.id - b.id;
}

function memberItem(member, me) {
  const self = member.id === me?.id;
  const actions = h("span", { class: "member-actions" });
  if (!self && me?.role === "owner" && member.role !== "owner") {
    const next = member.role === "admin" ? "member" : "admin";
    actions.append(
      h("button", {
        type: "button",
        class: "link",
        dataset: { action: "set-role", role: next },
        text: next === "admin" ? "Make admin" : "Make member",
      }),
    );
  }
  const mayRemove = me?.role === "owner" || (me?.role === "admin" && member.role !== "owner");
  if (!self && mayRemove) {
    actions.append(
      h("button", { type: "button", class: "link danger", dataset: { action: "remove-member" }, text: "Remove" }),
    );
  }
  return h(
    "li",
    { class: "person", dataset: { userId: member.id, role: member.role } },
    presenceAvatar(member),
    h(
      "span",
      { class: "person-text" },
      h("span", { class: "person-name", text: self ? `${member.name} (you)` : member.name }),
      h("span", { class: "person-email", text: member.email }),
    ),
    ROLE_LABEL[member.role] ? h("span", { class: `role role-${member.role}`, text: ROLE_LABEL[member.role] }) : null,
    actions.childElementCount ? actions : null,
  );
}

/** Runs a change of the open group; what it changed comes back as events (and the reply, for the list). */
async function change(what, act) {
  const s = store.session;
  const room = openGroup();
  if (!room) return;
  try {
    const updated = await act(s.api, room.id);
    if (store.session !== s) return;
    if (updated?.id === room.id && s.rooms.has(room.id)) {
      s.rooms.set(room.id, { ...s.rooms.get(room.id), ...updated });
      changed("rooms", "header", "group", "messages");
    }
  } catch (error) {
    toast(`Could not ${what}: ${error.message}`);
  }
}

export function renameGroup() {
  const name = $("group-name").value.trim();
  if (!name || name === openGroup()?.name) return;
  $("group-name").blur();
  change("rename the group", (api, roomId) => api.renameGroup(roomId, name));
}

export function removeMember(userId) {
  change("remove them", (api, roomId) => api.removeMember(roomId, userId));
}

export function setRole(userId, role) {
  change("change the role", (api, roomId) => api.setRole(roomId, userId, role));
}

/** Leaving asks once more: the first click arms the button for a few seconds, the second leaves. */
export async function leaveGroup() {
  const s = store.session;
  const room = openGroup();
  if (!room) return;
  clearTimeout(leaveTimer);
  if (leaveArmed !== room.id) {
    leaveArmed = room.id;
    leaveTimer = setTimeout(() => {
      leaveArmed = null;
      changed("group");
    }, CONFIRM_LEAVE_MS);
    changed("group");
    return;
  }
  leaveArmed = null;
  try {
    await s.api.removeMember(room.id, s.me.id);
    if (store.session === s) dropRoom(room.id);
  } catch (error) {
    toast(`Could not leave the group: ${error.message}`);
    changed("group");
  }
}

// -- who has read it ------------------------------------------------------------------------------------------

export async function showReads(messageId) {
  const s = store.session;
  const room = openGroup();
  if (!room) return;
  s.panel = false;
  s.reads = { roomId: room.id, messageId, seq: 0, loading: true };
  changed("group", "reads");
  await fetchReads(s);
}

/** Asks who has read the message shown; only the answer to the latest question is shown. */
async function fetchReads(s) {
  const asked = s.reads;
  const seq = ++asked.seq;
  let reads;
  try {
    reads = await s.api.reads(asked.roomId, asked.messageId);
  } catch (error) {
    if (s.reads !== asked || seq !== asked.seq) return;
    s.reads = null;
    toast(`Could not see who has read it: ${error.message}`);
    changed("reads");
    return;
  }
  if (store.session !== s || s.reads !== asked || seq !== asked.seq) return;
  Object.assign(asked, { loading: false, read_by: reads.read_by, not_read_by: reads.not_read_by });
  changed("reads");
}

export function closeReads() {
  const s = store.session;
  if (!s?.reads) return;
  s.reads = null;
  changed("reads");
}

renderer("reads", () => {
  const reads = store.session?.reads;
  $("reads").hidden = !reads;
  if (!reads) return;
  if (reads.loading) {
    $("reads-body").replaceChildren(h("p", { class: "hint", text: "Loading…" }));
    return;
  }
  const section = (title, id, people, empty) =>
    h(
      "section",
      { class: "reads-section" },
      h("h3", { text: `${title} · ${people.length}` }),
      people.length
        ? h("ul", { id, class: "people" }, ...people.map(readerItem))
        : h("p", { id, class: "hint", text: empty }),
    );
  $("reads-body").replaceChildren(
    section("Read by", "read-by", reads.read_by, "Nobody yet"),
    section("Not read yet", "not-read-by", reads.not_read_by, "Everyone has read it"),
  );
});

function readerItem(user) {
  return h(
    "li",
    { class: "person", dataset: { userId: user.id } },
    presenceAvatar(user),
    h(
      "span",
      { class: "person-text" },
      h("span", { class: "person-name", text: user.name }),
      h("span", { class: "person-email", text: user.email }),
    ),
  );
}

// Someone read in the group whose reads are shown: ask again, so the lists move while they are looked at.
subscribe("read", ({ roomId }) => {
  const s = store.session;
  if (s?.reads?.roomId === roomId) fetchReads(s);
});

// -- the socket's news of groups ------------------------------------------------------------------------------

/**
 * People joined or left a group. If I was taken out (or left in another tab), the group goes from the list and
 * closes; its new member list otherwise. True when the group is new to me: main.js then fetches the room list.
 */
export function onMembersChanged({ room_id: roomId, actor_id: actorId, removed, members }) {
  const s = store.session;
  const room = s.rooms.get(roomId);
  if ((removed || []).includes(s.me.id)) {
    if (room && actorId !== s.me.id) toast(`You were removed from “${room.name}”`);
    dropRoom(roomId);
    return false;
  }
  if (!room) return true;
  room.members = members;
  for (const userId of removed || []) stopPeerTyping(roomId, userId);
  changed("rooms", "header", "group", "messages");
  return false;
}

/** A group was renamed, or closed (its last member left). */
export function onRoomUpdated({ room_id: roomId, name, is_active: active }) {
  const s = store.session;
  const room = s.rooms.get(roomId);
  if (!room) return;
  if (!active) {
    dropRoom(roomId);
    return;
  }
  room.name = name;
  changed("rooms", "header", "group", "picker");
}
