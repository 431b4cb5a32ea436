// The open room's header (who, online, last seen, typing; a group's name, members and who of them is typing) and
// the typing line under its messages.

import { $, formatTime, formatWhen, groupAvatar, presenceAvatar } from "./dom.js";
import { renderer } from "./render.js";
import { isGroup, store, typingNames, typingSentence } from "./state.js";

/** "09:12" today (formatWhen is then the time already), else "12 Mar, 09:12". */
function lastSeen(iso) {
  const when = formatWhen(iso);
  const time = formatTime(iso);
  return when === time ? time : `${when}, ${time}`;
}

renderer("header", () => {
  const s = store.session;
  const room = s?.rooms.get(s.roomId);
  if (!room) return;
  $("group-info").hidden = !isGroup(room);
  if (isGroup(room)) {
    groupHeader(room);
    return;
  }
  const peer = room.other_user;
  const typing = s.peerTyping.has(room.id);
  $("peer-avatar").replaceChildren(presenceAvatar(peer));
  $("peer-name").textContent = peer.name;
  $("peer-name").title = peer.email;
  const status = $("peer-status");
  status.dataset.state = typing ? "typing" : peer.is_online ? "online" : "offline";
  if (typing) status.textContent = "typing…";
  else if (peer.is_online) status.textContent = "Online";
  else if (peer.last_seen) status.textContent = `Last seen ${lastSeen(peer.last_seen)}`;
  else status.textContent = "Offline";
});

/** A group: its name, and how many are in it and online, or who of them is typing. */
function groupHeader(room) {
  const s = store.session;
  const members = room.members || [];
  const online = members.filter((member) => member.is_online && member.id !== s.me.id).length;
  const typing = typingNames(room.id);
  $("peer-avatar").replaceChildren(groupAvatar(room));
  $("peer-name").textContent = room.name;
  $("peer-name").title = members.map((member) => member.name).join(", ");
  const status = $("peer-status");
  status.dataset.state = typing.length ? "typing" : "members";
  const count = `${members.length} member${members.length === 1 ? "" : "s"}`;
  status.textContent = typing.length ? `${typingSentence(typing)}…` : online ? `${count}, ${online} online` : count;
}

renderer("typing", () => {
  const s = store.session;
  const room = s?.rooms.get(s.roomId);
  const names = room ? typingNames(room.id) : [];
  const typing = names.length > 0;
  const box = $("messages");
  const pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  $("typing").hidden = !typing;
  $("typing-text").textContent = typing ? typingSentence(names) : "";
  if (typing && pinned) box.scrollTop = box.scrollHeight;
});
