// Voice notes in a container the upload policy accepts: Ogg/Opus from MediaRecorder (Firefox), MP4 (.m4a;
// Chromium 126+ and Safari), else 16 kHz WAV built from Web Audio samples. WebM, which every Chromium records,
// is not an allowed voice type, so it is never used.

const RECORDED = [
  { mimeType: "audio/ogg;codecs=opus", extension: "ogg", type: "audio/ogg" },
  { mimeType: "audio/mp4", extension: "m4a", type: "audio/mp4" },
];
const WAV_RATE = 16000;

export function canRecord() {
  return Boolean(navigator.mediaDevices?.getUserMedia) && (recordedFormat() !== null || "AudioWorkletNode" in window);
}

function recordedFormat() {
  if (typeof MediaRecorder === "undefined" || !MediaRecorder.isTypeSupported) return null;
  return RECORDED.find((format) => MediaRecorder.isTypeSupported(format.mimeType)) || null;
}

export class VoiceRecorder {
  /** Starts recording at once; `stop()` resolves to a File, `cancel()` drops everything. */
  static async start() {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const recorder = new VoiceRecorder(stream);
    try {
      const format = recordedFormat();
      await (format ? recorder.startRecorder(format) : recorder.startWav());
    } catch (error) {
      recorder.release();
      throw error;
    }
    return recorder;
  }

  constructor(stream) {
    this.stream = stream;
    this.startedAt = performance.now();
  }

  get seconds() {
    return (performance.now() - this.startedAt) / 1000;
  }

  async startRecorder(format) {
    this.chunks = [];
    this.format = format;
    this.media = new MediaRecorder(this.stream, { mimeType: format.mimeType });
    this.media.addEventListener("dataavailable", (event) => event.data.size && this.chunks.push(event.data));
    this.media.start(250);
  }

  async startWav() {
    this.samples = [];
    this.context = new AudioContext();
    await this.context.audioWorklet.addModule(new URL("./voice-worklet.js", import.meta.url).href);
    const source = this.context.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.context, "voice-tap", { numberOfOutputs: 0 });
    this.node.port.onmessage = (event) => this.samples.push(event.data);
    source.connect(this.node);
  }

  async stop() {
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
    if (this.media) {
      const done = new Promise((resolve) => this.media.addEventListener("stop", resolve, { once: true }));
      this.media.stop();
      await done;
      this.release();
      const { extension, type } = this.format;
      return new File(this.chunks, `voice-${stamp}.${extension}`, { type });
    }
    const rate = this.context.sampleRate;
    this.release();
    return new File([encodeWav(this.samples, rate, WAV_RATE)], `voice-${stamp}.wav`, { type: "audio/wav" });
  }

  cancel() {
    if (this.media && this.media.state !== "inactive") this.media.stop();
    this.release();
  }

  release() {
    for (const track of this.stream.getTracks()) track.stop();
    this.node?.disconnect();
    this.context?.close().catch(() => {});
    this.node = null;
    this.context = null;
  }
}

/** Mono 16-bit PCM WAV, downsampled by averaging to `outRate`. */
export function encodeWav(chunks, inRate, outRate) {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const input = new Float32Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    input.set(chunk, offset);
    offset += chunk.length;
  }
  const ratio = Math.max(1, inRate / outRate);
  const rate = Math.round(inRate / ratio);
  const count = Math.floor(total / ratio);
  const buffer = new ArrayBuffer(44 + count * 2);
  const view = new DataView(buffer);
  const ascii = (at, text) => [...text].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  ascii(0, "RIFF");
  view.setUint32(4, 36 + count * 2, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, "data");
  view.setUint32(40, count * 2, true);
  for (let i = 0; i < count; i += 1) {
    const from = Math.floor(i * ratio);
    const to = Math.min(total, Math.floor((i + 1) * ratio));
    let sum = 0;
    for (let j = from; j < to; j += 1) sum += input[j];
    const sample = Math.max(-1, Math.min(1, sum / Math.max(1, to - from)));
    view.setInt16(44 + i * 2, sample < 0 ? sample * 0x8000 : sample * 0x7fff, true);
  }
  return buffer;
}
