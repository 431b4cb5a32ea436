// The one place the page is drawn: each part ("rooms", "messages"...) has a renderer, and a change announced through
// state.js marks the part due. Due parts are drawn once, after the code that changed them has run (a microtask,
// which runs in hidden tabs too, unlike an animation frame: the unread count in the title must stay current).

import { subscribe } from "./state.js";

// Parts due together are drawn in this order: the room pane first (a hidden list cannot be scrolled), then as the
// page reads; the typing line before the messages, so it keeps the list at the bottom only if it already was.
const ORDER = ["pane", "rooms", "header", "typing", "messages"];
const renderers = new Map(); // part -> function(options)
const due = new Map(); // part -> options merged from every change since the last drawing
const after = [];
let scheduled = false;

/** `draw(options)` draws `part`; `changed(part)` (or `notify(part, options)`) in state.js makes it due. */
export function renderer(part, draw) {
  renderers.set(part, draw);
  subscribe(part, (options) => {
    due.set(part, { ...due.get(part), ...options });
    schedule();
  });
}

/** Runs `fn` once the parts now due are drawn (focus needs the element shown first). */
export function afterRender(fn) {
  after.push(fn);
  schedule();
}

function schedule() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(flush);
}

function rank(part) {
  const index = ORDER.indexOf(part);
  return index < 0 ? ORDER.length : index;
}

function flush() {
  scheduled = false;
  for (const part of [...due.keys()].sort((a, b) => rank(a) - rank(b))) {
    const options = due.get(part);
    due.delete(part);
    attempt(() => renderers.get(part)(options));
  }
  for (const fn of after.splice(0)) attempt(fn);
}

function attempt(fn) {
  try {
    fn();
  } catch (error) {
    reportError(error); // one part failing must not leave the others undrawn
  }
}
