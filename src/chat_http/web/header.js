// The open room's header (who, online, last seen, typing) and the typing line under its messages.

import { $, formatTime, formatWhen, presenceAvatar } from "./dom.js";
import { renderer } from "./render.js";
import { store } from "./state.js";

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

renderer("typing", () => {
  const s = store.session;
  const room = s?.rooms.get(s.roomId);
  const typing = Boolean(room && s.peerTyping.has(room.id));
  const box = $("messages");
  const pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  $("typing").hidden = !typing;
  $("typing-text").textContent = typing ? `${room.other_user.name} is typing` : "";
  if (typing && pinned) box.scrollTop = box.scrollHeight;
});
