// The REST API and the WebSocket, as the chat service defines them (SEED-SPEC plus the contract).

// The service's root path: "" for `chat serve`, the mount path ("/chat") inside a host; this file is <root>/web/api.js.
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const BASE = `${ROOT}/api/v1/chat`;

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `request failed (${status})`);
    this.status = status;
  }
}

async function errorOf(response) {
  let detail = "";
  try {
    detail = (await response.json()).detail;
  } catch {
    detail = response.statusText;
  }
  if (response.status === 429 && !detail) detail = "too many requests; wait a moment";
  return new ApiError(response.status, typeof detail === "string" ? detail : JSON.stringify(detail));
}

export class Api {
  constructor(token, { onUnauthorized } = {}) {
    this.token = token;
    this.onUnauthorized = onUnauthorized || (() => {});
  }

  async request(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}` };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path.startsWith("/") ? path : `${BASE}/${path}`, init);
    if (response.status === 401) this.onUnauthorized();
    if (!response.ok) throw await errorOf(response);
    return response.json();
  }

  me() {
    return this.request("GET", "me");
  }
  searchUsers(email) {
    return this.request("GET", `search-users?email=${encodeURIComponent(email)}`);
  }
  openRoom(receiverId) {
    return this.request("POST", "rooms", { receiver_id: receiverId });
  }
  rooms() {
    return this.request("GET", "rooms");
  }
  /** A group of me and `memberIds`, which I own. */
  createGroup(name, memberIds) {
    return this.request("POST", "rooms", { name, member_ids: memberIds });
  }
  renameGroup(roomId, name) {
    return this.request("PATCH", `rooms/${roomId}`, { name });
  }
  addMembers(roomId, userIds) {
    return this.request("POST", `rooms/${roomId}/members`, { user_ids: userIds });
  }
  /** Takes someone out of a group; my own id leaves it. */
  removeMember(roomId, userId) {
    return this.request("DELETE", `rooms/${roomId}/members/${userId}`);
  }
  setRole(roomId, userId, role) {
    return this.request("PUT", `rooms/${roomId}/members/${userId}`, { role });
  }
  /** {read_by, not_read_by}: who of the group has read one of its messages. */
  reads(roomId, messageId) {
    return this.request("GET", `rooms/${roomId}/messages/${messageId}/reads`);
  }
  room(roomId) {
    return this.request("GET", `rooms/${roomId}`);
  }
  /** Newest first before `beforeId`; or, with `afterId`, what came after it, oldest first. */
  history(roomId, { beforeId, afterId, perPage = 50 } = {}) {
    const query = new URLSearchParams({ per_page: String(perPage) });
    if (beforeId) query.set("before_id", String(beforeId));
    if (afterId !== undefined && afterId !== null) query.set("after_id", String(afterId));
    return this.request("GET", `rooms/${roomId}/messages?${query}`);
  }
  /** {results: [{message, snippet, highlights}], has_more, next_cursor}: the messages I may read, newest first. */
  searchMessages(q, { cursor, limit = 20 } = {}) {
    const query = new URLSearchParams({ q, limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    return this.request("GET", `search?${query}`);
  }
  markRead(roomId) {
    return this.request("POST", `rooms/${roomId}/read`);
  }
  editMessage(messageId, content) {
    return this.request("PUT", `messages/${messageId}`, { content });
  }
  deleteMessage(messageId) {
    return this.request("DELETE", `messages/${messageId}`);
  }
  /** Adding a reaction I already have, or taking back one I do not, changes nothing (and is no error). */
  addReaction(messageId, emoji) {
    return this.request("PUT", `messages/${messageId}/reactions/${encodeURIComponent(emoji)}`);
  }
  removeReaction(messageId, emoji) {
    return this.request("DELETE", `messages/${messageId}/reactions/${encodeURIComponent(emoji)}`);
  }
  pin(messageId) {
    return this.request("PUT", `messages/${messageId}/pin`);
  }
  unpin(messageId) {
    return this.request("DELETE", `messages/${messageId}/pin`);
  }
  /** {messages}: the room's pinned messages, the latest pinned first. */
  pins(roomId) {
    return this.request("GET", `rooms/${roomId}/pins`);
  }

  /** Streamed multipart upload (XHR for progress); resolves to {upload_id, message_type, ...}. */
  upload(file, fileName, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${BASE}/uploads`);
      xhr.setRequestHeader("Authorization", `Bearer ${this.token}`);
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
      });
      xhr.addEventListener("load", () => {
        if (xhr.status === 401) this.onUnauthorized();
        if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
        else reject(new ApiError(xhr.status, xhr.response?.detail || `upload failed (${xhr.status})`));
      });
      xhr.addEventListener("error", () => reject(new ApiError(0, "the upload was interrupted; try again")));
      const form = new FormData();
      form.append("file", file, fileName);
      xhr.send(form);
    });
  }
}

/** People found by email, or why none were: never throws (the search box and the picker show the problem). */
export async function findPeople(api, query) {
  try {
    const { users } = await api.searchUsers(query);
    return { users, problem: "" };
  } catch (error) {
    return { users: [], problem: error.message };
  }
}

export async function devToken(email, name) {
  const response = await fetch(`${ROOT}/api/v1/dev/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(name ? { email, name } : { email }),
  });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 5000;
const PING_EVERY_MS = 20000;
const PONG_WITHIN_MS = 8000;
// 4001: the token is bad or expired, so trying again cannot help; everything else is worth a retry.
const FINAL_CLOSE_CODES = new Set([4001]);

/** One socket that comes back by itself: exponential backoff with jitter, and a ping to notice a dead link. */
export class ChatSocket {
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers;
    this.ws = null;
    this.attempts = 0;
    this.opened = false;
    this.ready = false;
    this.stopped = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
  }

  get isOpen() {
    return this.ready && this.ws?.readyState === WebSocket.OPEN;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${BASE}/ws?token=${encodeURIComponent(this.token)}`);
    this.ws = ws;
    this.handlers.onStatus?.(this.opened ? "reconnecting" : "connecting");
    // The server accepts first and subscribes the socket after checking the token: it is ready, and a catch-up
    // cannot miss anything, only once a first frame (the answer to this ping) comes back.
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      ws.send(JSON.stringify({ type: "ping", data: {} }));
      this.pongTimer = setTimeout(() => this.drop(), PONG_WITHIN_MS);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      clearTimeout(this.pongTimer);
      if (!this.ready) this.becameReady();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame?.type && frame.type !== "pong") this.handlers.onEvent?.(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws === this.ws) this.closed(event.code, event.reason);
    });
  }

  becameReady() {
    this.ready = true;
    this.attempts = 0;
    const again = this.opened;
    this.opened = true;
    this.handlers.onStatus?.("online");
    this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
    this.handlers.onOpen?.(again);
  }

  closed(code, reason) {
    this.ready = false;
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.ws = null;
    if (this.stopped) return;
    if (FINAL_CLOSE_CODES.has(code)) {
      this.stopped = true;
      this.handlers.onStatus?.("offline");
      this.handlers.onAuthFailed?.(code, reason);
      return;
    }
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.attempts);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempts += 1;
    this.handlers.onStatus?.("reconnecting", delay);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** The network came back or the tab became visible: do not wait for the backoff. */
  reconnectNow() {
    if (this.stopped || this.ws) return;
    this.attempts = 0;
    this.connect();
  }

  ping() {
    if (!this.send("ping", {})) return;
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => this.drop(), PONG_WITHIN_MS);
  }

  /** Give up on a link that stopped answering: close it and go straight to the reconnect path. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    try {
      ws.close();
    } catch {
      // already closing
    }
    this.closed(1006, "no answer to ping");
  }

  send(type, data) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify({ type, data }));
    return true;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, "signed out");
  }
}
