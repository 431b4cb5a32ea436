// Parts of a message made from what people wrote or did, for messages.js, the reply bar, the pins panel and search
// results: its text (plain text nodes, http(s) links as <a> elements, the `<@ID>` tokens of mentioned members as
// "@Name" spans), the quote a reply starts with, its reaction chips and the reaction picker, a search snippet with
// its matches marked. Built with DOM calls only: nothing from a message is ever parsed as HTML.

import { h, safeUrl } from "./dom.js";
import { nameIn, personIn, previewOf, store } from "./state.js";

// The reaction picker's choice: common emoji, no emoji library (the server checks any emoji it is sent).
export const QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "✅"];
const KIND_ICON = { image: "i-image", file: "i-file", voice: "i-mic" };

// A mention token, or a link: http(s) up to the next blank (or a character no URL carries unescaped in text).
const TOKEN = /<@([1-9][0-9]{0,18})>|\bhttps?:\/\/[^\s<>"]+/gi;
// Punctuation that ends a sentence rather than the link: "see https://example.com." links without the dot.
const TRAILING = /[.,;:!?'")\]}]+$/;

/**
 * Nodes for `content`. `nameOf(id)` gives a mentioned member's name (null: not a member, the token stays text);
 * `mentions` are the ids the server found mentioned; `meId` gets the stronger highlight; `links: false` keeps links
 * as text (inside a button, where an <a> may not go).
 */
export function richText(content, { mentions = [], nameOf = () => null, meId = null, links = true } = {}) {
  const text = String(content ?? "");
  const mentioned = new Set(mentions);
  const nodes = [];
  let plain = "";
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    const [token, id] = match;
    const node = id ? mentionNode(Number(id), mentioned, nameOf, meId) : links ? linkNode(token) : null;
    if (!node) continue;
    plain += text.slice(last, match.index);
    if (plain) nodes.push(document.createTextNode(plain));
    plain = "";
    nodes.push(node.el);
    last = match.index + node.length; // a link's trailing punctuation stays text
  }
  plain += text.slice(last);
  if (plain) nodes.push(document.createTextNode(plain));
  return nodes;
}

function mentionNode(userId, mentioned, nameOf, meId) {
  const name = mentioned.has(userId) ? nameOf(userId) : null;
  if (!name) return null;
  const me = userId === meId;
  const el = h("span", { class: `mention${me ? " me" : ""}`, dataset: { userId }, text: `@${name}` });
  return { el, length: `<@${userId}>`.length };
}

function linkNode(token) {
  const trail = token.match(TRAILING)?.[0] || "";
  const url = token.slice(0, token.length - trail.length);
  const href = safeUrl(url);
  if (!href || !/^https?:$/.test(new URL(href).protocol)) return null;
  const el = h("a", { class: "link-out", href, target: "_blank", rel: "noopener noreferrer", text: url });
  return { el, length: url.length };
}

/**
 * A search hit's snippet as text nodes with its matches in <mark> elements. `highlights` are [start, end) offsets
 * in characters (code points, as the server counts them, not UTF-16 units: an emoji before a match must not shift
 * it); overlapping or out-of-range ones are merged or dropped. `plain(text)` words the parts between the marks.
 */
export function markedText(text, highlights, plain = (part) => part) {
  const chars = Array.from(String(text ?? ""));
  const spans = (Array.isArray(highlights) ? highlights : [])
    .filter((span) => Array.isArray(span) && Number.isInteger(span[0]) && Number.isInteger(span[1]))
    .map(([start, end]) => [Math.max(0, start), Math.min(chars.length, end)])
    .filter(([start, end]) => start < end)
    .sort((a, b) => a[0] - b[0]);
  const nodes = [];
  let at = 0;
  for (const [start, end] of spans) {
    if (end <= at) continue;
    const from = Math.max(start, at);
    if (from > at) nodes.push(document.createTextNode(plain(chars.slice(at, from).join(""))));
    nodes.push(h("mark", { text: chars.slice(from, end).join("") }));
    at = end;
  }
  if (at < chars.length) nodes.push(document.createTextNode(plain(chars.slice(at).join(""))));
  return nodes;
}

/** The ids of every `<@ID>` token in `text`: what the server will (or would) find mentioned among the members, for
 * text it has not said that of (a message on its way, a quote's preview). */
export function tokenIds(text) {
  return [...String(text ?? "").matchAll(/<@([1-9][0-9]{0,18})>/g)].map((match) => Number(match[1]));
}

/** `text` as one line of plain text, each member's `<@ID>` as "@Name" (a room list's preview). */
export function withNames(text, room) {
  return String(text ?? "").replace(/<@([1-9][0-9]{0,18})>/g, (token, id) => {
    const name = personIn(room, Number(id));
    return name ? `@${name}` : token;
  });
}

/** A message's text with its links and its mentions of members as elements. */
export function textOf(content, room, mentions, { links = true } = {}) {
  const s = store.session;
  return richText(content, { mentions: mentions || [], nameOf: (id) => personIn(room, id), meId: s.me.id, links });
}

/** The quote a message would get in a reply to it, as the server words it (`reply_to`). */
export function quoteFor(message) {
  return {
    id: message.id,
    sender_id: message.sender_id,
    message_type: message.message_type,
    preview: message.is_deleted ? null : previewOf(message.content || message.file_name),
    is_deleted: Boolean(message.is_deleted),
  };
}

/** What a reply shows of its original: the server's quote; where the server withholds it (only its id: someone in
 * the group joined after the original), the original as loaded here, if it is. */
export function shownQuote(reply) {
  const withheld = !reply.is_deleted && reply.sender_id == null && reply.preview == null;
  const original = withheld ? store.session.messages.get(reply.id) : null;
  return original ? quoteFor(original) : reply;
}

/** The quote a reply starts with: who wrote the original and its first words, or that it was deleted (or is not
 * shown to everyone in the group). As a button it scrolls to the original; the composer's bar shows it as a plain
 * block. */
export function quoteOf(reply, room, tag = "div") {
  const s = store.session;
  const gone = Boolean(reply.is_deleted);
  const withheld = !gone && (reply.preview === null || reply.preview === undefined);
  const known = reply.sender_id !== null && reply.sender_id !== undefined;
  const who = reply.sender_id === s.me.id ? "You" : known ? nameIn(room, reply.sender_id) : gone ? "Unknown" : "";
  const icon = !gone && !withheld && KIND_ICON[reply.message_type];
  // the preview is cut at 120 characters, maybe inside a token: every complete member token is shown as a mention
  const ids = gone || withheld ? [] : tokenIds(reply.preview);
  const button = tag === "button";
  let text;
  if (gone) text = "Message deleted";
  else if (withheld) text = "An earlier message";
  else text = textOf(reply.preview, room, ids, { links: false });
  return h(
    tag,
    {
      class: `quote${gone ? " gone" : ""}${withheld ? " withheld" : ""}`,
      type: button ? "button" : null,
      title: button ? "Show the original message" : null,
      dataset: button ? { action: "quote", replyTo: reply.id } : { replyTo: reply.id },
    },
    who ? h("span", { class: "quote-sender", text: who }) : null,
    h("span", { class: "quote-text" }, icon ? h("span", { class: `icon ${icon}`, "aria-hidden": "true" }) : null, text),
  );
}

export function reactionsOf(message, room) {
  const s = store.session;
  const reactions = (message.reactions || []).filter((reaction) => reaction.user_ids.length);
  if (!reactions.length) return null;
  return h(
    "div",
    { class: "reactions", role: "group", "aria-label": "Reactions" },
    reactions.map((reaction) => {
      const mine = reaction.user_ids.includes(s.me.id);
      const who = reaction.user_ids.map((id) => (id === s.me.id ? "You" : nameIn(room, id))).join(", ");
      return h(
        "button",
        {
          type: "button",
          class: `reaction${mine ? " mine" : ""}`,
          "aria-pressed": String(mine),
          title: `${who} (${mine ? "click to take yours back" : "click to add yours"})`,
          dataset: { action: "toggle-reaction", emoji: reaction.emoji },
        },
        h("span", { class: "reaction-emoji", text: reaction.emoji }),
        h("span", { class: "reaction-count", text: reaction.user_ids.length }),
      );
    }),
  );
}

export function pickerOf(message) {
  if (store.session.reacting !== message.id) return null;
  return h(
    "div",
    { class: "reaction-picker", role: "group", "aria-label": "Pick a reaction" },
    QUICK_EMOJI.map((emoji) =>
      h("button", {
        type: "button",
        class: "pick-emoji",
        title: `React with ${emoji}`,
        "aria-label": `React with ${emoji}`,
        dataset: { action: "react-with", emoji },
        text: emoji,
      }),
    ),
  );
}
