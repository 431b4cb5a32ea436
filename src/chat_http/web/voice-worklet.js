// Hands microphone samples to the page, which encodes them as WAV (Chromium's MediaRecorder has no Ogg).
class Tap extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0]?.[0];
    if (channel) this.port.postMessage(channel.slice(0));
    return true;
  }
}

registerProcessor("voice-tap", Tap);
