// The composer's @ autocomplete in a group: "@" and the start of a name or email offers the members who match;
// choosing one (click, Enter or Tab) writes their token `<@ID>`, which the server reads as a mention of them.

import { $, avatar, h } from "./dom.js";
import { renderer } from "./render.js";
import { changed, isGroup, store } from "./state.js";

const SHOWN = 6;
// "@" at the start or after a blank, then what is typed of a name or an email, up to the caret.
const QUERY = /(^|\s)@([^\s@<>]{0,40})$/;

/** The composer changed (typing, or the caret moved): offer the members matching the "@..." before the caret. */
export function onMentionInput() {
  const s = store.session;
  const room = s?.rooms.get(s.roomId);
  const text = $("text");
  const match = isGroup(room) ? text.value.slice(0, text.selectionEnd).match(QUERY) : null;
  if (!match || text.selectionStart !== text.selectionEnd) {
    closeMentions();
    return;
  }
  const query = match[2].toLowerCase();
  const rank = (member) => {
    const name = member.name.toLowerCase();
    if (name.startsWith(query)) return 0;
    if (name.split(/\s+/).some((word) => word.startsWith(query))) return 1;
    if (name.includes(query)) return 2;
    return (member.email || "").toLowerCase().includes(query) ? 3 : -1;
  };
  const found = (room.members || [])
    .filter((member) => member.id !== s.me.id)
    .map((member) => ({ member, rank: rank(member) }))
    .filter(({ rank }) => rank >= 0)
    .sort((a, b) => a.rank - b.rank || a.member.name.localeCompare(b.member.name) || a.member.id - b.member.id)
    .slice(0, SHOWN)
    .map(({ member }) => member);
  if (!found.length) {
    closeMentions();
    return;
  }
  const end = text.selectionEnd;
  const kept = s.mention?.found[s.mention.active]?.id;
  const active = Math.max(0, found.findIndex((member) => member.id === kept));
  s.mention = { start: end - match[2].length - 1, end, found, active };
  changed("mention");
}

export function closeMentions() {
  const s = store.session;
  if (!s?.mention) return;
  s.mention = null;
  changed("mention");
}

/** The composer's keys while members are offered: arrows move, Enter or Tab chooses, Escape closes. */
export function onMentionKey(event) {
  const offer = store.session?.mention;
  if (!offer || event.isComposing) return false;
  const count = offer.found.length;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    offer.active = (offer.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
    changed("mention");
  } else if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
    chooseMention(offer.found[offer.active].id);
  } else if (event.key === "Escape") {
    closeMentions();
  } else {
    return false;
  }
  event.preventDefault();
  return true;
}

/** The "@..." being typed becomes the member's token. */
export function chooseMention(userId) {
  const s = store.session;
  const offer = s?.mention;
  if (!offer?.found.some((member) => member.id === userId)) return;
  const text = $("text");
  const token = `<@${userId}> `;
  text.value = text.value.slice(0, offer.start) + token + text.value.slice(offer.end);
  const caret = offer.start + token.length;
  text.focus();
  text.setSelectionRange(caret, caret);
  closeMentions();
}

renderer("mention", () => {
  const offer = store.session?.mention;
  const list = $("mention-list");
  list.hidden = !offer;
  $("text").setAttribute("aria-expanded", String(Boolean(offer)));
  if (!offer) {
    list.replaceChildren();
    $("text").removeAttribute("aria-activedescendant");
    return;
  }
  list.replaceChildren(
    ...offer.found.map((member, index) =>
      h(
        "li",
        {
          id: `mention-${member.id}`,
          role: "option",
          class: `mention-option${index === offer.active ? " active" : ""}`,
          "aria-selected": String(index === offer.active),
          dataset: { action: "mention", userId: member.id },
        },
        avatar(member),
        h(
          "span",
          { class: "person-text" },
          h("span", { class: "person-name", text: member.name }),
          h("span", { class: "person-email", text: member.email }),
        ),
      ),
    ),
  );
  $("text").setAttribute("aria-activedescendant", `mention-${offer.found[offer.active].id}`);
});
