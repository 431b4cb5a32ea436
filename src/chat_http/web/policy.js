// What the server takes (its upload policy, rendered into the page): the file pickers' filter, refusals before
// any upload, and which failures are worth a retry.

const KIND_WORDS = { image: "images", file: "files", voice: "voice notes" };
const MB = 1024 * 1024;
// Socket error codes a later try can get past; "invalid" and the like will fail the same way again.
const RETRYABLE_CODES = new Set(["rate_limited", "busy", "internal", "unavailable"]);

function read() {
  try {
    const policy = JSON.parse(document.body.dataset.uploadPolicy || "null");
    return policy && typeof policy === "object" ? policy : null;
  } catch {
    return null;
  }
}

/** kind -> {extensions, max_size}; null if the page came without it (the server still checks every file). */
export const policy = read();

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

/** The kind a file name belongs to under the policy, or null if the policy has none for it. */
export function kindByName(name) {
  const ext = extensionOf(name);
  for (const [kind, rule] of Object.entries(policy || {})) if (rule.extensions.includes(ext)) return kind;
  return null;
}

/** The `accept` attribute for a picker of these kinds: extensions only, so no look-alike type slips in. */
export function acceptFor(kinds) {
  return kinds.flatMap((kind) => (policy?.[kind]?.extensions || []).map((ext) => `.${ext}`)).join(",");
}

function megabytes(bytes) {
  return `${Math.floor(bytes / MB)} MB`;
}

function describe(kinds) {
  const parts = kinds
    .filter((kind) => policy[kind])
    .map((kind) => {
      const { extensions, max_size: maxSize } = policy[kind];
      const names = extensions.map((ext) => ext.toUpperCase()).join(", ");
      return `${KIND_WORDS[kind] || kind} (${names}; up to ${megabytes(maxSize)})`;
    });
  return parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}` : parts.join("");
}

/**
 * Why the server would refuse this file, said before it is sent; null if it may go.
 * `kind` is what the picker was for (a voice note), else the name decides.
 */
export function refusal(file, kind = null) {
  if (!policy) return null;
  const name = `“${file.name}”`;
  const found = kindByName(file.name);
  if (!found || (kind && found !== kind)) {
    const kinds = kind ? [kind] : Object.keys(policy);
    return { type: true, text: name, allowed: describe(kinds) };
  }
  if (file.size === 0) return { type: false, text: `${name} is empty.` };
  const maxSize = policy[found].max_size;
  if (file.size > maxSize) {
    const limit = `${KIND_WORDS[found] || found} may be at most ${megabytes(maxSize)}`;
    return { type: false, text: `${name} is too large: ${limit}.` };
  }
  return null;
}

/** One message for everything refused at once: the names of the wrong types, then what is allowed. */
export function refusalMessage(refusals) {
  const wrongType = refusals.filter((r) => r.type);
  const lines = [];
  if (wrongType.length)
    lines.push(
      `${wrongType.map((r) => r.text).join(", ")} ${wrongType.length > 1 ? "were" : "was"} not sent: ` +
        `you can send ${wrongType[0].allowed}.`,
    );
  for (const r of refusals) if (!r.type) lines.push(r.text);
  return lines.join(" ");
}

/** An HTTP failure a retry can fix: no answer at all, a timeout, too many requests, or the server's fault. */
export function retryableStatus(status) {
  return !status || status === 408 || status === 429 || status >= 500;
}

export function retryableCode(code) {
  return RETRYABLE_CODES.has(code);
}
