// The chat page's entry: sign-in and sign-out, and the wiring of the features, which never import each other: what
// each control does (clicks by `data-action`, one listener per container), and which feature takes each socket event.
// Every piece of text from the server or another person goes into the page as a text node, never as HTML.

import { Api, ChatSocket, devToken } from "./api.js";
import { askDelete, cancelEdit, onComposerInput, saveEdit, startEdit, stopTyping } from "./compose.js";
import { $, avatar, onAction } from "./dom.js";
import { closeFinder, moreResults, onFinderInput, submitFinder, toggleFinder } from "./finder.js";
import {
  closeGroupPanel,
  closeReads,
  leaveGroup,
  onMembersChanged,
  onRoomUpdated,
  removeMember,
  renameGroup,
  setRole,
  showReads,
  toggleGroupPanel,
} from "./groups.js";
import "./header.js";
import { onMessagesRead, onPresence, onSocketStatus, onTyping } from "./live.js";
import { chooseMention, closeMentions, onMentionInput, onMentionKey } from "./mentions.js";
import "./messages.js";
import {
  discardPending,
  finishRecording,
  flushPending,
  onFilesPicked,
  onServerError,
  retryPending,
  sendFiles,
  sendText,
  startRecording,
} from "./outbox.js";
import { closePicker, onPickerInput, openPicker, submitPicker, togglePick, unpick } from "./picker.js";
import { closePins, onMessagePinned, onMessageUnpinned, setPinned, togglePins } from "./pins.js";
import { acceptFor, policy } from "./policy.js";
import {
  closeReactionPicker,
  onReactionAdded,
  onReactionRemoved,
  toggleReaction,
  toggleReactionPicker,
} from "./reactions.js";
import { cancelReply, startReply, takeReply } from "./replies.js";
import "./roomlist.js";
import {
  closeRoom,
  jumpTo,
  loadNewer,
  loadOlder,
  loadRooms,
  maybeMarkRead,
  onNewMessage,
  onSocketOpen,
  openRoom,
  showMessage,
} from "./rooms.js";
import { clearSearch, hideResults, onSearchInput, startChat } from "./search.js";
import { changed, endSession, messageDeleted, messageUpdated, newSession, store } from "./state.js";

const TOKEN_KEY = "chatcore.token";

/** Which feature takes each server event. */
const EVENTS = {
  new_message: onNewMessage,
  message_updated: messageUpdated,
  message_deleted: messageDeleted,
  messages_read: onMessagesRead,
  typing: onTyping,
  presence: onPresence,
  members_changed: (data) => onMembersChanged(data) && loadRooms(), // true: a group new to me
  room_updated: onRoomUpdated,
  reaction_added: onReactionAdded,
  reaction_removed: onReactionRemoved,
  message_pinned: onMessagePinned,
  message_unpinned: onMessageUnpinned,
  error: onServerError,
};

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
    onEvent: ({ type, data }) => store.session === s && EVENTS[type]?.(data),
    onOpen: () => store.session === s && onSocketOpen(flushPending),
    onStatus: (status) => store.session === s && onSocketStatus(status),
    onAuthFailed: ended,
  });
  s.socket.start();
  await loadRooms();
}

function signOut(message = "") {
  const s = store.session;
  store.session = null;
  if (s) endSession(s);
  sessionStorage.removeItem(TOKEN_KEY);
  $("search").value = "";
  $("text").value = "";
  changed(
    "pane",
    "rooms",
    "messages",
    "search",
    "finder",
    "editing",
    "recording",
    "group",
    "reads",
    "picker",
    "pins",
    "replying",
    "mention",
  );
  showSignIn(message);
}

function wireSignIn() {
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
}

function wireSidebar() {
  onAction(document.querySelector(".sidebar"), {
    "sign-out": () => signOut(),
    "open-room": (el) => openRoom(Number(el.dataset.roomId)),
    "start-chat": async (el) => {
      const roomId = await startChat(Number(el.dataset.userId));
      if (roomId !== null) await openRoom(roomId);
    },
    "new-group": () => {
      hideResults();
      openPicker("create");
    },
    finder: () => {
      hideResults();
      toggleFinder();
    },
    "close-finder": closeFinder,
    "finder-more": moreResults,
    "open-hit": (el) => showMessage(Number(el.dataset.roomId), Number(el.dataset.messageId)),
  });
  $("finder-input").addEventListener("input", onFinderInput);
  $("finder-input").addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeFinder();
  });
  $("finder-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitFinder();
  });
  $("search").addEventListener("input", onSearchInput);
  $("search").addEventListener("keydown", (event) => {
    if (event.key === "Escape") clearSearch();
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest?.(".search")) hideResults();
  });
}

function wireConversation() {
  const pane = $("conversation");
  const messageId = (el) => Number(el.closest("li[data-id]").dataset.id);
  const pendingId = (el) => el.closest("li[data-cmid]").dataset.cmid;
  const memberId = (el) => Number(el.closest("li[data-user-id]").dataset.userId);
  onAction(pane, {
    "group-panel": () => {
      closePins();
      toggleGroupPanel();
    },
    "close-group-panel": closeGroupPanel,
    "pins-panel": togglePins,
    "close-pins": closePins,
    jump: (el) => {
      closePins(); // the panel would hide the message on a narrow screen
      const roomId = store.session?.roomId;
      if (roomId) showMessage(roomId, Number(el.closest("li[data-message-id]").dataset.messageId));
    },
    "add-people": () => openPicker("add", store.session?.roomId),
    "set-role": (el) => setRole(memberId(el), el.dataset.role),
    "remove-member": (el) => removeMember(memberId(el)),
    "leave-group": leaveGroup,
    reads: (el) => {
      closePins();
      showReads(messageId(el));
    },
    "close-reads": closeReads,
    "close-room": closeRoom,
    "load-older": loadOlder,
    "load-newer": loadNewer,
    edit: (el) => {
      cancelReply();
      startEdit(messageId(el));
    },
    reply: (el) => {
      cancelEdit();
      startReply(messageId(el));
    },
    "cancel-reply": cancelReply,
    quote: (el) => jumpTo(Number(el.dataset.replyTo)),
    react: (el) => toggleReactionPicker(messageId(el)),
    "react-with": (el) => toggleReaction(messageId(el), el.dataset.emoji),
    "toggle-reaction": (el) => toggleReaction(messageId(el), el.dataset.emoji),
    pin: (el) => setPinned(messageId(el), true),
    unpin: (el) => setPinned(messageId(el), false),
    mention: (el) => chooseMention(Number(el.dataset.userId)),
    delete: (el) => askDelete(messageId(el)),
    retry: (el) => retryPending(pendingId(el)),
    discard: (el) => discardPending(pendingId(el)),
    "cancel-edit": cancelEdit,
    record: startRecording,
    "cancel-recording": () => finishRecording(false),
    "send-recording": () => finishRecording(true),
  });
  $("messages").addEventListener("scroll", () => {
    const box = $("messages");
    if (store.session) store.session.pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  });
  const text = $("text");
  text.addEventListener("input", () => {
    onComposerInput();
    onMentionInput();
  });
  text.addEventListener("click", onMentionInput); // the caret moved into or out of an "@..."
  text.addEventListener("keydown", (event) => {
    if (onMentionKey(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    } else if (event.key === "Escape") {
      cancelEdit();
      cancelReply();
    }
  });
  // choosing a member must not take the focus (and the caret) from the composer
  $("mention-list").addEventListener("mousedown", (event) => event.preventDefault());
  document.addEventListener("click", (event) => {
    if (!event.target.closest?.(".reaction-picker, [data-action='react']")) closeReactionPicker();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeReactionPicker();
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
    closeMentions();
    sendText(content, takeReply());
  });
  $("file-input").addEventListener("change", (event) => onFilesPicked(event.target));
  $("voice-input").addEventListener("change", (event) => onFilesPicked(event.target, "voice"));
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
}

function wirePicker() {
  onAction($("picker"), {
    pick: (el) => togglePick(Number(el.dataset.userId)),
    unpick: (el) => unpick(Number(el.closest("li[data-user-id]").dataset.userId)),
    "picker-cancel": closePicker,
  });
  $("picker").addEventListener("click", (event) => {
    if (event.target === $("picker")) closePicker(); // the backdrop
  });
  $("picker").addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePicker();
  });
  $("picker-search").addEventListener("input", onPickerInput);
  $("picker-name").addEventListener("input", () => changed("picker"));
  $("picker-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const roomId = await submitPicker();
    if (roomId !== null) await openRoom(roomId);
  });
  $("rename-form").addEventListener("submit", (event) => {
    event.preventDefault();
    renameGroup();
  });
}

function boot() {
  wireSignIn();
  wireSidebar();
  wireConversation();
  wirePicker();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible" || !store.session) return;
    store.session.socket.reconnectNow();
    maybeMarkRead();
  });
  window.addEventListener("online", () => store.session?.socket.reconnectNow());
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
