"""uvicorn's httptools protocol with a bound on the request head, which uvicorn itself does not have.

httptools keeps a header value in memory however long it grows, joining each piece to the last one, so four
100 MiB headers sent before authentication grew a server by 360 MiB and stalled every other request for
7.6 s. Here a head (request target and header fields) of more than MAX_HEAD_BYTES, or with more than
MAX_HEADER_FIELDS fields, is answered 431 and its connection closed, having held about the limit plus one
read of the socket (256 KiB) at most.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# 64 KiB: twice what nginx passes by default (4 buffers of 8 KB) and four times Node's 16 KiB, so a request
# that got through a proxy fits, big cookies and all; a refused connection costs the server under 1 MB.
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_FIELDS = 100  # Apache's LimitRequestFields, and http.client's; browsers send 10-20


class HeadTooLarge(Exception):
    """Raised in a parser callback to stop httptools; the 431 is sent once it has stopped."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Two counts: the bytes read while a head is incomplete, which stop one that never ends before httptools
    holds it all, and the size of the head as parsed (request target and fields), which sets the limit exactly
    when a whole head arrives in one read."""

    max_head_bytes = MAX_HEAD_BYTES
    max_header_fields = MAX_HEADER_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Bytes read since this head began; -1 from its end until the message is complete (the body is the app's
        # to limit). A read holding the end of one message and the start of the next is not counted.
        self._head_bytes = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._head_bytes >= 0:
            self._head_bytes += len(data)
        super().data_received(data)
        if (self._refused or self._head_bytes > self.max_head_bytes) and not self.transport.is_closing():
            self._refuse_head()

    def on_header(self, name: bytes, value: bytes) -> None:
        # Counted as they come: one read of 256 KiB can hold 60,000 tiny fields, ~10 MB as Python objects.
        if len(self.headers) >= self.max_header_fields:
            self._refused = True
            raise HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        # Measured once here, which is cheaper than field by field; the reads counted so far have kept what is
        # held to the limit plus one read.
        if len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers) > self.max_head_bytes:
            self._refused = True
            raise HeadTooLarge
        self._head_bytes = -1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._head_bytes = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # else the parser stopped at our limit, and the 431 follows
            super().send_400_response(msg)

    def _refuse_head(self) -> None:
        client = "{}:{} - ".format(*self.client) if self.client else ""
        limits = f"{self.max_head_bytes} bytes or {self.max_header_fields} fields"
        self.logger.warning("%sRequest head over %s: 431", client, limits)
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a pipelined request: a 431 would land inside the response being sent
            return
        msg = b"Request header fields too large"
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(msg)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                msg,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
