// DOM building without HTML strings: text is always a text node, never parsed as markup. Clicks are not wired
// per element: an element says what it does in `data-action`, and `onAction` on its container dispatches.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "text") el.textContent = String(value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function $(id) {
  return document.getElementById(id);
}

/** One click listener for `container`: a click in an element with `data-action="x"` calls `actions.x(element)`. */
export function onAction(container, actions) {
  container.addEventListener("click", (event) => {
    const target = event.target.closest?.("[data-action]");
    if (!target || !container.contains(target)) return;
    const act = actions[target.dataset.action];
    if (act) act(target, event);
  });
}

/** Only http(s), same-origin paths and blob: URLs may become a src or href (no javascript:, no data:). */
export function safeUrl(url) {
  if (typeof url !== "string" || !url) return null;
  try {
    const parsed = new URL(url, location.href);
    return ["http:", "https:", "blob:"].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

/** Put `nodes` into `container` in order, moving as few as possible (a moved <audio> would stop playing). */
export function reconcile(container, nodes) {
  let current = container.firstChild;
  for (const node of nodes) {
    if (node === current) {
      current = current.nextSibling;
      continue;
    }
    container.insertBefore(node, current);
  }
  while (current) {
    const next = current.nextSibling;
    current.remove();
    current = next;
  }
}

export function initials(name) {
  const parts = String(name || "?")
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?")[0];
  return letters.toUpperCase();
}

export function avatar(user, extraClass = "") {
  const hue = `hue-${Math.abs(Number(user?.id) || 0) % 8}`;
  const box = h("span", { class: `avatar ${hue} ${extraClass}`.trim(), "aria-hidden": "true" });
  const fallback = () => {
    box.textContent = initials(user?.name);
  };
  const src = safeUrl(user?.avatar_url);
  if (src) {
    const img = h("img", { src, alt: "", referrerpolicy: "no-referrer", loading: "lazy" });
    img.addEventListener("error", () => {
      img.remove();
      fallback();
    });
    box.append(img);
  } else {
    fallback();
  }
  return box;
}

export function presenceAvatar(user) {
  return h(
    "span",
    { class: "avatar-wrap" },
    avatar(user),
    h("span", { class: `presence${user.is_online ? " online" : ""}`, title: user.is_online ? "Online" : "Offline" }),
  );
}

/** A group's picture: its name's initials in a rounded square, marked as a group. */
export function groupAvatar(room) {
  return h(
    "span",
    { class: "avatar-wrap group-avatar", title: "Group" },
    avatar({ id: room.id, name: room.name }, "group"),
    h("span", { class: "group-mark", "aria-hidden": "true" }, h("span", { class: "icon i-users" })),
  );
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const shortDayFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

export function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : timeFormat.format(date);
}

export function dayKey(iso) {
  const date = new Date(iso);
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

export function formatDay(iso) {
  const date = new Date(iso);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(iso) === dayKey(today.toISOString())) return "Today";
  if (dayKey(iso) === dayKey(yesterday.toISOString())) return "Yesterday";
  return dayFormat.format(date);
}

/** Time for today, else a short date: what a room list shows. */
export function formatWhen(iso) {
  if (!iso) return "";
  return dayKey(iso) === dayKey(new Date().toISOString()) ? formatTime(iso) : shortDayFormat.format(new Date(iso));
}

export function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function newId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

let toastTimer = null;

export function toast(message, ms = 5000) {
  const box = $("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.hidden = true;
  }, ms);
}
