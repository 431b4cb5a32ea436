// The room list: newest activity first, with the last message, typing, an unread badge (and "@" when I was
// mentioned there), and the unread total in the tab's title; a group by its name and mark, a direct room by the other person. A room says what a click does
// (`data-action="open-room"`); main.js dispatches it.

import { $, formatWhen, groupAvatar, h, presenceAvatar } from "./dom.js";
import { withNames } from "./parts.js";
import { renderer } from "./render.js";
import { isGroup, roomName, store, typingNames, typingSentence } from "./state.js";

const KIND_LABEL = { image: "Photo", file: "File", voice: "Voice message" };
const KIND_ICON = { image: "i-image", file: "i-file", voice: "i-mic" };

function activity(room) {
  return Date.parse(room.last_message?.created_at || room.updated_at || room.created_at) || 0;
}

renderer("rooms", () => {
  const s = store.session;
  if (!s) {
    $("rooms").replaceChildren();
    return;
  }
  const rooms = [...s.rooms.values()].sort((a, b) => activity(b) - activity(a) || b.id - a.id);
  $("rooms-empty").hidden = rooms.length > 0;
  $("rooms").replaceChildren(...rooms.map(roomItem));
  const unread = rooms.reduce((n, room) => n + (room.unread_count || 0), 0);
  document.title = `${unread ? `(${unread}) ` : ""}Chat · ${s.me.name}`;
});

function previewOf(room) {
  const last = room.last_message;
  if (!last) return ["No messages yet"];
  if (last.message_type === "system") return [last.content || ""];
  const group = isGroup(room);
  const mine = last.sender_id === store.session.me.id;
  const deleted = last.deleted || (last.content === null && last.message_type === "text");
  const icon = !deleted && KIND_ICON[last.message_type];
  const body = deleted ? "Message deleted" : withNames(last.content, room) || KIND_LABEL[last.message_type] || "";
  const who = mine ? "You: " : group ? `${last.sender_name}: ` : null;
  return [who, icon ? h("span", { class: `icon ${icon}`, "aria-hidden": "true" }) : null, body];
}

function roomItem(room) {
  const s = store.session;
  const typing = s.peerTyping.has(room.id);
  const typingText = isGroup(room) ? `${typingSentence(typingNames(room.id))}…` : "typing…";
  const unread = room.unread_count || 0;
  const mentions = room.mention_count || 0;
  const classes = ["room-item", room.id === s.roomId && "active", unread && "unread"].filter(Boolean).join(" ");
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: classes,
        dataset: { action: "open-room", roomId: room.id, kind: room.kind || "direct" },
      },
      isGroup(room) ? groupAvatar(room) : presenceAvatar(room.other_user),
      h(
        "span",
        { class: "room-main" },
        h(
          "span",
          { class: "room-top" },
          h("span", { class: "room-name", text: roomName(room) }),
          h("span", { class: "room-time", text: formatWhen(room.last_message?.created_at || room.updated_at) }),
        ),
        h(
          "span",
          { class: "room-bottom" },
          h("span", { class: `room-preview${typing ? " typing" : ""}` }, typing ? typingText : previewOf(room)),
          mentions
            ? h("span", {
                class: "mention-badge",
                text: "@",
                title: `${mentions} mention${mentions === 1 ? "" : "s"} of you`,
              })
            : null,
          unread ? h("span", { class: "badge", text: unread > 99 ? "99+" : unread, title: `${unread} unread` }) : null,
        ),
      ),
    ),
  );
}
