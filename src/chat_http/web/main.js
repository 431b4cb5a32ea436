// The chat page: sign-in, search, and wiring the page's controls; the other modules do the rest.
// Every piece of text from the server or another person goes into the page as a text node, never as HTML.

import { Api, ChatSocket, devToken } from "./api.js";
import { $, avatar, h, toast } from "./dom.js";
import {
  cancelEdit,
  finishRecording,
  onComposerInput,
  onFilesPicked,
  saveEdit,
  sendFiles,
  sendText,
  startRecording,
  stopTyping,
} from "./compose.js";
import { onEvent, onSocketOpen, onSocketStatus } from "./live.js";
import { closeRoom, loadOlder, loadRooms, maybeMarkRead, openRoom, presenceAvatar, showRoomPane } from "./rooms.js";
import { acceptFor, policy } from "./policy.js";
import { newSession, store } from "./state.js";

const TOKEN_KEY = "chatcore.token";

function showSignIn(message = "") {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  document.title = "Chat";
}

async function signIn(rawToken) {
  const token = rawToken.trim().replace(/^Bearer\s+/i, "");
  if (!token) return;
  const s = newSession(token);
  const ended = () => store.session === s && signOut("Your session has ended. Sign in again.");
  s.api = new Api(token, { onUnauthorized: ended });
  try {
    s.me = await s.api.me();
  } catch (error) {
    if (error.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(error.status === 401 ? "That token was not accepted: it is invalid or has expired." : error.message);
    return;
  }
  if (store.session) signOut();
  store.session = s;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token-input").value = "";
  $("signin").hidden = true;
  $("app").hidden = false;
  $("me-avatar").replaceChildren(avatar(s.me));
  $("me-name").textContent = s.me.name;
  $("me-name").title = s.me.email;
  document.title = `Chat · ${s.me.name}`;
  s.socket = new ChatSocket(token, {
    onEvent: (frame) => store.session === s && onEvent(frame),
    onOpen: () => store.session === s && onSocketOpen(),
    onStatus: (status) => store.session === s && onSocketStatus(status),
    onAuthFailed: ended,
  });
  s.socket.start();
  await loadRooms();
}

function signOut(message = "") {
  const s = store.session;
  store.session = null;
  if (s) {
    s.socket?.stop();
    s.recorder?.cancel();
    clearInterval(s.recordingTimer);
    for (const timer of [s.typingIdle, s.markReadTimer, s.searchTimer, s.confirmDeleteTimer, ...s.peerTyping.values()])
      clearTimeout(timer);
    for (const pending of s.pending.values()) if (pending.view.preview) URL.revokeObjectURL(pending.view.preview);
  }
  sessionStorage.removeItem(TOKEN_KEY);
  $("rooms").replaceChildren();
  $("message-list").replaceChildren();
  $("search").value = "";
  $("search-results").hidden = true;
  $("recording").hidden = true;
  $("edit-banner").hidden = true;
  $("text").value = "";
  showRoomPane(false);
  showSignIn(message);
}

function onSearchInput() {
  const s = store.session;
  if (!s) return;
  clearTimeout(s.searchTimer);
  const query = $("search").value.trim();
  if (query.length < 2) {
    s.searchSeq += 1;
    $("search-results").hidden = true;
    return;
  }
  s.searchTimer = setTimeout(() => runSearch(query), 250);
}

async function runSearch(query) {
  const s = store.session;
  const seq = ++s.searchSeq;
  let users = [];
  let problem = "";
  try {
    ({ users } = await s.api.searchUsers(query));
  } catch (error) {
    problem = error.message;
  }
  if (store.session !== s || seq !== s.searchSeq) return;
  const results = $("search-results");
  const items = users.map((user) =>
    h(
      "li",
      {},
      h(
        "button",
        { type: "button", class: "result", dataset: { userId: user.id }, onclick: () => startChat(user) },
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
  if (!items.length) items.push(h("li", { class: "result-empty", text: problem || "No one found with that email" }));
  results.replaceChildren(...items);
  results.hidden = false;
}

async function startChat(user) {
  const s = store.session;
  try {
    const room = await s.api.openRoom(user.id);
    if (store.session !== s) return;
    room.other_user.last_seen = null;
    s.rooms.set(room.id, { ...(s.rooms.get(room.id) || {}), ...room });
    $("search").value = "";
    $("search-results").hidden = true;
    await openRoom(room.id);
  } catch (error) {
    toast(`Could not start the conversation: ${error.message}`);
  }
}

function wire() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("token-input").value);
  });
  $("dev-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("dev-error").textContent = "";
    try {
      const { token } = await devToken($("dev-email").value.trim(), $("dev-name").value.trim());
      await signIn(token);
    } catch (error) {
      $("dev-error").textContent = error.message;
    }
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("search").addEventListener("input", onSearchInput);
  $("search").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      $("search").value = "";
      onSearchInput();
    }
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest?.(".search")) $("search-results").hidden = true;
  });
  $("back").addEventListener("click", closeRoom);
  $("load-older").addEventListener("click", loadOlder);
  $("messages").addEventListener("scroll", () => {
    const box = $("messages");
    if (store.session) store.session.pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  });
  const text = $("text");
  text.addEventListener("input", onComposerInput);
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    } else if (event.key === "Escape") {
      cancelEdit();
    }
  });
  text.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return;
    event.preventDefault();
    sendFiles(files);
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const s = store.session;
    if (!s?.roomId) return;
    const content = text.value.trim();
    if (s.editing) {
      saveEdit(content);
      return;
    }
    if (!content) return;
    text.value = "";
    stopTyping();
    sendText(content);
  });
  $("edit-cancel").addEventListener("click", cancelEdit);
  $("file-input").addEventListener("change", (event) => onFilesPicked(event.target));
  $("voice-input").addEventListener("change", (event) => onFilesPicked(event.target, "voice"));
  $("mic").addEventListener("click", startRecording);
  $("rec-cancel").addEventListener("click", () => finishRecording(false));
  $("rec-send").addEventListener("click", () => finishRecording(true));
  const pane = $("conversation");
  pane.addEventListener("dragover", (event) => {
    if (!store.session?.roomId || !event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    $("drop-hint").hidden = false;
  });
  pane.addEventListener("dragleave", (event) => {
    if (!pane.contains(event.relatedTarget)) $("drop-hint").hidden = true;
  });
  pane.addEventListener("drop", (event) => {
    $("drop-hint").hidden = true;
    if (!store.session?.roomId || !event.dataTransfer?.files.length) return;
    event.preventDefault();
    sendFiles([...event.dataTransfer.files]);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible" || !store.session) return;
    store.session.socket.reconnectNow();
    maybeMarkRead();
  });
  window.addEventListener("online", () => store.session?.socket.reconnectNow());
}

function boot() {
  wire();
  $("dev-form").hidden = document.body.dataset.dev !== "true";
  if (policy) {
    $("file-input").accept = acceptFor(Object.keys(policy));
    $("voice-input").accept = acceptFor(["voice"]);
  }
  // An HR system may open /chat#token=<jwt>: the fragment never reaches a server log.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromLink = fragment.get("token");
  if (fromLink) history.replaceState(null, "", location.pathname + location.search);
  const token = fromLink || sessionStorage.getItem(TOKEN_KEY);
  if (token) signIn(token);
  else showSignIn();
}

boot();
