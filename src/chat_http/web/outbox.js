// Messages on their way, keyed by client_msg_id: text, files (uploaded first, with progress) and voice notes
// recorded here. They stay pending until the server's echo comes back (state.js's takeMessage), and are sent
// again after a reconnect; a refused one offers Retry only if trying again can help.

import { $, formatDuration, newId, toast } from "./dom.js";
import { kindByName, refusal, refusalMessage, retryableCode, retryableStatus } from "./policy.js";
import { renderer } from "./render.js";
import { changed, store } from "./state.js";
import { canRecord, VoiceRecorder } from "./voice.js";

const REFUSAL_TOAST_MS = 10000;
const MAX_RECORDING_SECONDS = 300;
const IMAGE_NAME = /\.(jpe?g|png|gif|webp)$/i;
const VOICE_NAME = /\.(ogg|mp3|wav|m4a|aac)$/i;

/** After a (re)connect: everything still waiting to be sent goes out, in order. */
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
  changed("messages");
}

/** `reply` ({reply_to_id, reply_to}) when it answers a message. */
export function sendText(content, reply = null) {
  const s = store.session;
  const id = newId();
  const data = { room_id: s.roomId, message_type: "text", content };
  if (reply) data.reply_to_id = reply.reply_to_id;
  s.pending.set(id, {
    roomId: s.roomId,
    data,
    view: { message_type: "text", content, reply_to: reply?.reply_to ?? null },
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
function sendFile(file, kind = kindOf(file)) {
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
  changed("messages");
  try {
    const reply = await s.api.upload(pending.file, pending.view.file_name, (fraction) => {
      pending.progress = fraction;
      if (store.session === s) changed("messages");
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
    changed("messages");
  }
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

export function onFilesPicked(input, kind) {
  sendFiles([...input.files], kind);
  input.value = "";
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
  changed("messages");
}

/** The server refused something: a pending message it names fails, anything else is said in a toast. */
export function onServerError({ code, message, client_msg_id: clientMsgId }) {
  const pending = clientMsgId && store.session.pending.get(clientMsgId);
  if (!pending) {
    toast(code === "rate_limited" ? "Slow down a little: too many events at once." : message);
    return;
  }
  pending.state = "failed";
  pending.error = message;
  pending.retryable = retryableCode(code);
  changed("messages");
}

renderer("recording", () => {
  const recorder = store.session?.recorder;
  $("recording").hidden = !recorder;
  if (recorder) $("rec-time").textContent = formatDuration(recorder.seconds);
});

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
  changed("recording");
  s.recordingTimer = setInterval(() => {
    changed("recording");
    if ((s.recorder?.seconds || 0) >= MAX_RECORDING_SECONDS) finishRecording(true);
  }, 250);
}

export async function finishRecording(send) {
  const s = store.session;
  const recorder = s?.recorder;
  if (!recorder) return;
  s.recorder = null;
  clearInterval(s.recordingTimer);
  changed("recording");
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
