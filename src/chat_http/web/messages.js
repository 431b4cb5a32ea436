// The open room's messages as DOM: built once per change and reused, pending ones last. Text is always text (links
// and mentions are elements made by parts.js, never parsed HTML). Their buttons say what they do (`data-action`:
// edit, delete, react, reply, pin, retry, discard, reads, quote...); main.js dispatches the clicks. In a group,
// others' messages carry their sender's name, a change of members is a centred note, and my messages' ticks open
// who has read them. A reply starts with a quote of its original; reactions are chips under the bubble.

import { $, dayKey, formatDay, formatSize, formatTime, h, reconcile, safeUrl } from "./dom.js";
import { renderer } from "./render.js";
import { pickerOf, quoteOf, reactionsOf, shownQuote, textOf, tokenIds } from "./parts.js";
import { isGroup, isMine, mayPin, personIn, store } from "./state.js";

// Rendered elements by key ("m:<id>", "p:<client_msg_id>", "day:<day>"), reused while what they show is unchanged
// (a rebuilt <audio> would stop playing); those the last drawing did not use are let go.
let nodes = new Map();
let used = new Map();

renderer("messages", ({ keepOffset = false }) => {
  const s = store.session;
  if (!s) {
    nodes = new Map();
    $("message-list").replaceChildren();
    return;
  }
  used = new Map();
  const box = $("messages");
  const fromBottom = box.scrollHeight - box.scrollTop;
  const list = [];
  let lastDay = null;
  const sorted = [...s.messages.values()].sort((a, b) => a.id - b.id);
  let previous = null;
  const group = isGroup(s.rooms.get(s.roomId));
  for (const message of sorted) {
    const day = dayKey(message.created_at);
    if (day !== lastDay) {
      list.push(dayNode(message.created_at));
      lastDay = day;
      previous = null;
    }
    if (message.message_type === "system") {
      list.push(noteNode(message));
      previous = null;
      continue;
    }
    list.push(messageNode(message, previous, group));
    previous = message;
  }
  const now = new Date().toISOString();
  for (const [id, pending] of s.pending) {
    if (pending.roomId !== s.roomId) continue;
    if (dayKey(now) !== lastDay) {
      list.push(dayNode(now));
      lastDay = dayKey(now);
    }
    list.push(pendingNode(id, pending));
  }
  reconcile($("message-list"), list);
  nodes = used;
  $("load-older").hidden = !s.hasOlder;
  $("load-newer").hidden = !s.hasNewer;
  if (keepOffset) box.scrollTop = box.scrollHeight - fromBottom;
  else if (s.pinned) box.scrollTop = box.scrollHeight;
});

function cachedNode(id, key, build) {
  const cached = nodes.get(id);
  const el = cached && cached.key === key ? cached.el : build();
  used.set(id, { key, el });
  return el;
}

function dayNode(iso) {
  const label = formatDay(iso);
  return cachedNode(`day:${dayKey(iso)}`, label, () => h("li", { class: "day" }, h("span", { text: label })));
}

/** A change of a group's members or name, as a sentence between the messages (no bubble, no actions). */
function noteNode(message) {
  return cachedNode(`m:${message.id}`, message.content, () =>
    h("li", { class: "note", dataset: { id: message.id } }, h("span", { text: message.content })),
  );
}

function isReadByPeer(message, group) {
  const s = store.session;
  if (message.is_read) return true;
  if (!group) return (s.peerRead.get(message.room_id) || 0) >= message.id;
  // read by every other member who got it, as their markers came in live (older ones: the server's is_read)
  const marks = s.memberRead.get(message.room_id) || new Map();
  const others = (s.rooms.get(message.room_id)?.members || []).filter(
    (member) => member.id !== s.me.id && Date.parse(member.joined_at) <= Date.parse(message.created_at),
  );
  return others.length > 0 && others.every((member) => (marks.get(member.id) || 0) >= message.id);
}

function messageNode(message, previous, group) {
  const s = store.session;
  const mine = isMine(message);
  const read = mine && isReadByPeer(message, group);
  const room = s.rooms.get(message.room_id);
  const quote = message.reply_to ? shownQuote(message.reply_to) : null;
  const grouped = Boolean(
    previous &&
    previous.sender_id === message.sender_id &&
    !previous.is_deleted &&
    Date.parse(message.created_at) - Date.parse(previous.created_at) < 5 * 60 * 1000,
  );
  const key = JSON.stringify([
    message.is_deleted,
    message.content,
    message.is_edited,
    message.file_name,
    read,
    grouped,
    group,
    s.editing === message.id,
    s.confirmDelete === message.id,
    s.reacting === message.id,
    message.reactions,
    quote,
    message.pinned_at,
    mayPin(room),
    namesShown(message, room, quote),
  ]);
  return cachedNode(`m:${message.id}`, key, () => buildMessage(message, { mine, read, grouped, group, room, quote }));
}

/** The names a message shows besides its sender's (mentions, its quote's author, who reacted): drawn again when
 * one changes. */
function namesShown(message, room, quote) {
  const ids = [...(message.mentions || []), quote?.sender_id];
  for (const reaction of message.reactions || []) ids.push(...reaction.user_ids);
  return ids.map((id) => (id === null || id === undefined ? null : personIn(room, id)));
}

function buildMessage(message, { mine, read, grouped, group, room, quote }) {
  const s = store.session;
  const classes = ["msg", mine ? "mine" : "theirs", `kind-${message.message_type}`];
  if (grouped) classes.push("grouped");
  if (message.is_deleted) classes.push("deleted");
  if (s.editing === message.id) classes.push("editing");
  const bubble = h("div", { class: "bubble" });
  if (group && !mine && !grouped) bubble.append(h("span", { class: "sender", text: message.sender_name }));
  if (message.is_deleted) {
    bubble.append(h("span", { class: "deleted-text", text: "This message was deleted" }));
  } else {
    if (quote) bubble.append(quoteOf(quote, room, "button"));
    const media = mediaOf(message);
    if (media) bubble.append(media);
    if (message.content) bubble.append(h("p", { class: "text" }, textOf(message.content, room, message.mentions)));
  }
  bubble.append(metaOf(message, { mine, read, group }));
  if (message.pinned_at && !message.is_deleted) classes.push("pinned");
  const item = h("li", {
    class: classes.join(" "),
    dataset: { id: message.id, state: mine ? (read ? "read" : "sent") : "" },
  });
  const live = !message.is_deleted;
  item.append(h("div", { class: "msg-body" }, bubble, live && reactionsOf(message, room), live && pickerOf(message)));
  if (!message.is_deleted) item.append(actionsOf(message, { mine, room }));
  return item;
}

function mediaOf(message) {
  const url = safeUrl(message.file_url);
  const name = message.file_name || "file";
  if (message.message_type === "image" && url) {
    const img = h("img", { class: "image", src: url, alt: name, loading: "lazy", decoding: "async" });
    img.addEventListener("load", keepPinned);
    return h("a", { class: "image-link", href: url, target: "_blank", rel: "noopener noreferrer", title: name }, img);
  }
  if (message.message_type === "voice" && url) {
    return h(
      "div",
      { class: "voice" },
      h("audio", { controls: true, preload: "metadata", src: url }),
      h("a", { class: "voice-name", href: url, download: name, rel: "noopener noreferrer", text: name }),
    );
  }
  if (message.message_type !== "text") {
    return h(
      "a",
      { class: "file-card", href: url || null, download: name, target: "_blank", rel: "noopener noreferrer" },
      h("span", { class: "file-icon", "aria-hidden": "true" }, h("span", { class: "icon i-file" })),
      h(
        "span",
        { class: "file-text" },
        h("span", { class: "file-name", text: name }),
        h("span", { class: "file-size", text: formatSize(message.file_size) }),
      ),
    );
  }
  return null;
}

function metaOf(message, { mine, read, group }) {
  const meta = h("span", { class: "meta" });
  if (message.pinned_at && !message.is_deleted) {
    meta.append(
      h(
        "span",
        { class: "pin-mark", title: "Pinned", "aria-label": "Pinned" },
        h("span", { class: "icon i-pin", "aria-hidden": "true" }),
      ),
    );
  }
  if (message.is_edited && !message.is_deleted) meta.append(h("span", { class: "edited", text: "edited" }));
  meta.append(h("time", { datetime: message.created_at, text: formatTime(message.created_at) }));
  if (mine && !message.is_deleted && group) {
    const label = read ? "Read by everyone: see who" : "See who has read this";
    meta.append(
      h(
        "button",
        {
          type: "button",
          class: `status reads ${read ? "read" : "sent"}`,
          title: label,
          "aria-label": label,
          dataset: { action: "reads" },
        },
        h("span", { class: `icon ${read ? "i-checks" : "i-check"}`, "aria-hidden": "true" }),
      ),
    );
  } else if (mine && !message.is_deleted) {
    meta.append(
      h(
        "span",
        {
          class: `status ${read ? "read" : "sent"}`,
          title: read ? "Read" : "Sent",
          "aria-label": read ? "Read" : "Sent",
        },
        h("span", { class: `icon ${read ? "i-checks" : "i-check"}`, "aria-hidden": "true" }),
      ),
    );
  }
  return meta;
}

function actionButton(action, label, icon, extra = "") {
  return h(
    "button",
    { type: "button", class: `action ${action}${extra}`, title: label, "aria-label": label, dataset: { action } },
    h("span", { class: `icon ${icon}`, "aria-hidden": "true" }),
  );
}

function actionsOf(message, { mine, room }) {
  const actions = h("div", { class: "actions" });
  const reacting = store.session.reacting === message.id;
  actions.append(
    actionButton("react", "React", "i-smile", reacting ? " open" : ""),
    actionButton("reply", "Reply", "i-reply"),
  );
  if (mayPin(room)) {
    actions.append(
      message.pinned_at ? actionButton("unpin", "Unpin", "i-pin", " pinned") : actionButton("pin", "Pin", "i-pin"),
    );
  }
  if (!mine) return actions;
  if (message.message_type === "text") {
    actions.append(
      h(
        "button",
        {
          type: "button",
          class: "action edit",
          title: "Edit",
          "aria-label": "Edit message",
          dataset: { action: "edit" },
        },
        h("span", { class: "icon i-edit", "aria-hidden": "true" }),
      ),
    );
  }
  const armed = store.session.confirmDelete === message.id;
  actions.append(
    h(
      "button",
      {
        type: "button",
        class: `action delete${armed ? " armed" : ""}`,
        title: armed ? "Click again to delete" : "Delete",
        "aria-label": armed ? "Confirm delete" : "Delete message",
        dataset: { action: "delete" },
      },
      h("span", { class: "icon i-trash", "aria-hidden": "true" }),
      h("span", { class: "confirm-text", text: "Delete?" }),
    ),
  );
  return actions;
}

function pendingNode(id, pending) {
  const progress = pending.progress === null ? null : Math.round(pending.progress * 50) * 2;
  const key = JSON.stringify([pending.state, pending.error, progress, pending.view.content]);
  return cachedNode(`p:${id}`, key, () => {
    const s = store.session;
    const view = pending.view;
    const bubble = h("div", { class: "bubble" });
    if (view.message_type === "image" && view.preview) {
      const img = h("img", { class: "image", src: view.preview, alt: view.file_name });
      img.addEventListener("load", keepPinned);
      bubble.append(h("span", { class: "image-link" }, img));
    } else if (view.message_type !== "text") {
      bubble.append(
        h(
          "span",
          { class: "file-card" },
          h(
            "span",
            { class: "file-icon", "aria-hidden": "true" },
            h("span", { class: `icon ${view.message_type === "voice" ? "i-mic" : "i-file"}` }),
          ),
          h(
            "span",
            { class: "file-text" },
            h("span", { class: "file-name", text: view.file_name }),
            h("span", { class: "file-size", text: formatSize(view.file_size) }),
          ),
        ),
      );
    }
    const room = s.rooms.get(pending.roomId);
    if (view.reply_to) bubble.prepend(quoteOf(view.reply_to, room));
    if (view.content) bubble.append(h("p", { class: "text" }, textOf(view.content, room, tokenIds(view.content))));
    const meta = h("span", { class: "meta" });
    if (pending.state === "failed") {
      meta.append(
        h("span", { class: "failed", text: pending.error || "Not sent" }),
        pending.retryable
          ? h("button", { type: "button", class: "link retry", dataset: { action: "retry" }, text: "Retry" })
          : null,
        h("button", { type: "button", class: "link discard", dataset: { action: "discard" }, text: "Discard" }),
      );
    } else if (pending.state === "uploading") {
      meta.append(
        h("progress", { max: 100, value: progress ?? 0 }),
        h("span", { text: `Uploading ${progress ?? 0}%` }),
      );
    } else {
      meta.append(
        h(
          "span",
          { class: "status sending", title: "Sending", "aria-label": "Sending" },
          h("span", { class: "icon i-clock", "aria-hidden": "true" }),
        ),
      );
    }
    bubble.append(meta);
    return h(
      "li",
      { class: `msg mine pending kind-${view.message_type}`, dataset: { cmid: id, state: pending.state } },
      bubble,
    );
  });
}

function keepPinned() {
  if (store.session?.pinned) $("messages").scrollTop = $("messages").scrollHeight;
}
