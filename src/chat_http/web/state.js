// What belongs to one sign-in, shared by the page's modules; replaced whole on sign-out.

export function newSession(token) {
  return {
    token,
    api: null,
    socket: null,
    me: null,
    rooms: new Map(), // room id -> room (as GET /rooms gives it, kept current by events)
    roomId: null, // the open room
    messages: new Map(), // the open room's messages by id
    hasOlder: false,
    roomLoaded: false, // the open room's messages have come (GET /rooms/{id})
    seen: new Map(), // room id -> newest message id counted, so a message is never counted unread twice
    pending: new Map(), // client_msg_id -> a message on its way (uploading, sending, failed)
    nodes: new Map(), // rendered message elements, reused while unchanged
    peerTyping: new Map(), // room id -> expiry timer
    peerRead: new Map(), // room id -> newest message id the other person has read
    pinned: true, // the message list is scrolled to the bottom
    typingRoom: null,
    typingSentAt: 0,
    typingIdle: null,
    editing: null,
    confirmDelete: null,
    confirmDeleteTimer: null,
    recorder: null,
    recordingTimer: null,
    markReadTimer: null,
    searchTimer: null,
    searchSeq: 0,
  };
}

/** `store.session` is the signed-in session, or null. */
export const store = { session: null };
