// Writing: text and files through an outbox keyed by client_msg_id, typing, editing, deleting, voice notes.

import { $, formatDuration, newId, toast } from "./dom.js";
import { canRecord, VoiceRecorder } from "./voice.js";
import { onMessageDeleted, onMessageUpdated } from "./live.js";
import { renderMessages } from "./messages.js";
import { kindByName, refusal, refusalMessage, retryableCode, retryableStatus } from "./policy.js";
import { store } from "./state.js";

const TYPING_SEND_EVERY_MS = 3000;
const REFUSAL_TOAST_MS = 10000;
const TYPING_IDLE_MS = 4000;
const MAX_RECORDING_SECONDS = 300;
const IMAGE_NAME = /\.(jpe?g|png|gif|webp)$/i;
const VOICE_NAME = /\.(ogg|mp3|wav|m4a|aac)$/i;

export function flushPending() {
  const s = store.session;
  for (const [id, pending] of s.pending) {
    if (pending.data && pending.state === "sending")
      s.socket.send("send_message", { ...pending.data, client_msg_id: id });
  }
}

function sendPending(id) {
  const s = store.session;
  const pending = s.pending.get(id);
  if (!pending?.data) return;
  pending.state = "sending";
  pending.error = null;
  pending.retryable = true;
  pending.progress = null;
  s.socket.send("send_message", { ...pending.data, client_msg_id: id }); // else flushPending sends it on reconnect
  renderMessages();
}

export function sendText(content) {
  const s = store.session;
  const id = newId();
  s.pending.set(id, {
    roomId: s.roomId,
    data: { room_id: s.roomId, message_type: "text", content },
    view: { message_type: "text", content },
    state: "sending",
    error: null,
    progress: null,
  });
  s.pinned = true;
  sendPending(id);
}

function kindOf(file) {
  const kind = kindByName(file.name);
  if (kind) return kind;
  if (IMAGE_NAME.test(file.name)) return "image";
  if (VOICE_NAME.test(file.name)) return "voice";
  return "file";
}

/** Files go through POST /uploads (streamed, with progress), then send_message carries the upload_id. */
export function sendFile(file, kind = kindOf(file)) {
  const s = store.session;
  if (!s?.roomId) return;
  const id = newId();
  s.pending.set(id, {
    roomId: s.roomId,
    data: null,
    file,
    view: {
      message_type: kind,
      file_name: file.name,
      file_size: file.size,
      preview: kind === "image" ? URL.createObjectURL(file) : null,
    },
    state: "uploading",
    error: null,
    progress: 0,
  });
  s.pinned = true;
  upload(id);
}

async function upload(id) {
  const s = store.session;
  const pending = s.pending.get(id);
  pending.state = "uploading";
  pending.error = null;
  pending.progress = 0;
  renderMessages();
  try {
    const reply = await s.api.upload(pending.file, pending.view.file_name, (fraction) => {
      pending.progress = fraction;
      if (store.session === s) renderMessages();
    });
    if (store.session !== s || !s.pending.has(id)) return;
    pending.data = { room_id: pending.roomId, message_type: reply.message_type, upload_id: reply.upload_id };
    pending.view.message_type = reply.message_type;
    sendPending(id);
  } catch (error) {
    if (store.session !== s || !s.pending.has(id)) return;
    pending.state = "failed";
    pending.error = error.message;
    pending.retryable = retryableStatus(error.status);
    renderMessages();
  }
}

/** Marks a message the server refused over the socket; Retry is offered only if trying again can help. */
export function failPending(pending, code, message) {
  pending.state = "failed";
  pending.error = message;
  pending.retryable = retryableCode(code);
  renderMessages();
}

/** Files from a picker, a drop or a paste: those the server would refuse are named at once, never uploaded. */
export function sendFiles(files, kind) {
  const refused = [];
  for (const file of files) {
    const why = refusal(file, kind);
    if (why) refused.push(why);
    else sendFile(file, kind);
  }
  if (refused.length) toast(refusalMessage(refused), REFUSAL_TOAST_MS);
}

export function retryPending(id) {
  const pending = store.session?.pending.get(id);
  if (!pending) return;
  if (pending.data) sendPending(id);
  else upload(id);
}

export function discardPending(id) {
  const s = store.session;
  const pending = s.pending.get(id);
  if (pending?.view.preview) URL.revokeObjectURL(pending.view.preview);
  s.pending.delete(id);
  s.nodes.delete(`p:${id}`);
  renderMessages();
}

export function onFilesPicked(input, kind) {
  sendFiles([...input.files], kind);
  input.value = "";
}

export function onComposerInput() {
  const s = store.session;
  if (!s?.roomId || s.editing) return;
  if (!$("text").value.trim()) {
    stopTyping();
    return;
  }
  const now = Date.now();
  if (s.typingRoom !== s.roomId || now - s.typingSentAt > TYPING_SEND_EVERY_MS) {
    if (s.socket.send("typing", { room_id: s.roomId, is_typing: true })) {
      s.typingRoom = s.roomId;
      s.typingSentAt = now;
    }
  }
  clearTimeout(s.typingIdle);
  s.typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

export function stopTyping() {
  const s = store.session;
  if (!s) return;
  clearTimeout(s.typingIdle);
  if (s.typingRoom) s.socket.send("typing", { room_id: s.typingRoom, is_typing: false });
  s.typingRoom = null;
  s.typingSentAt = 0;
}

export function startEdit(messageId) {
  const s = store.session;
  const message = s.messages.get(messageId);
  if (!message || message.is_deleted) return;
  stopTyping();
  s.editing = messageId;
  $("edit-banner").hidden = false;
  $("text").value = message.content || "";
  $("text").focus();
  renderMessages();
}

export function cancelEdit() {
  const s = store.session;
  if (!s?.editing) return;
  s.editing = null;
  $("edit-banner").hidden = true;
  $("text").value = "";
  renderMessages();
}

export async function saveEdit(content) {
  const s = store.session;
  const messageId = s.editing;
  if (!content) return;
  try {
    const updated = await s.api.editMessage(messageId, content);
    if (store.session !== s) return;
    cancelEdit();
    onMessageUpdated(updated);
  } catch (error) {
    toast(`Could not edit the message: ${error.message}`);
  }
}

export async function deleteMessage(messageId) {
  const s = store.session;
  const message = s.messages.get(messageId);
  try {
    await s.api.deleteMessage(messageId);
    if (store.session === s && message) onMessageDeleted({ id: messageId, room_id: message.room_id });
  } catch (error) {
    toast(`Could not delete the message: ${error.message}`);
  }
}

export async function startRecording() {
  const s = store.session;
  if (!s?.roomId || s.recorder) return;
  if (!canRecord()) {
    $("voice-input").click();
    return;
  }
  try {
    s.recorder = await VoiceRecorder.start();
  } catch {
    toast("The microphone is not available here; pick a voice file instead.");
    $("voice-input").click();
    return;
  }
  $("recording").hidden = false;
  $("rec-time").textContent = "0:00";
  s.recordingTimer = setInterval(() => {
    const seconds = s.recorder?.seconds || 0;
    $("rec-time").textContent = formatDuration(seconds);
    if (seconds >= MAX_RECORDING_SECONDS) finishRecording(true);
  }, 250);
}

export async function finishRecording(send) {
  const s = store.session;
  const recorder = s?.recorder;
  if (!recorder) return;
  s.recorder = null;
  clearInterval(s.recordingTimer);
  $("recording").hidden = true;
  if (!send) {
    recorder.cancel();
    return;
  }
  const file = await recorder.stop();
  if (file.size < 64) {
    toast("Nothing was recorded.");
    return;
  }
  sendFiles([file], "voice");
}
