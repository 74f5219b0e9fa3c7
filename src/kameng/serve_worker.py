"""gunicorn's asyncio worker with a deadline on reading a request's headers (`kameng serve`).

gunicorn's asyncio worker bounds the header *size* (`limit_request_line`, `limit_request_fields`,
`limit_request_field_size`), the idle wait between two requests on a kept-alive connection (`keepalive`)
and each wait for a piece of the body (`timeout`), but not the time a client takes to send the headers of
its first request: a client that sends a header byte every few seconds keeps its connection, and its
file descriptor, for ever. Enough of them and the process can accept nobody else.

Here every request's head must arrive whole within `KAMENG_SERVE_HEADER_TIMEOUT` seconds (10) of the
connection opening, or of the first byte of a later request on a kept-alive connection. A client that
started a request and did not finish its headers in time gets `408 Request Timeout` and the connection is
closed; a connection that sent nothing at all is closed without an answer (RFC 9112 §9.5: an idle
connection may be closed, and an unasked-for 408 there could be read as the answer to a request the
client is only now sending). Connections beyond `worker_connections` (KAMENG_SERVE_CONNECTIONS), which that
worker counts but does not cap, are answered 503 and closed at once. Nothing here touches a thread: the timer lives in the event loop, and
Django (`kameng.asgi`) sees only requests that arrived whole.
"""

from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi

DEFAULT_HEADER_TIMEOUT = 10.0


class HeaderDeadlineProtocol(ASGIProtocol):
    """One HTTP/1 connection: gunicorn's protocol, plus a timer that runs while a request head is awaited."""

    def __init__(self, worker):
        super().__init__(worker)
        self._header_timeout = getattr(worker, "header_timeout", DEFAULT_HEADER_TIMEOUT)
        self._header_timer = None
        self._head_started = False  # a byte of the awaited request head has arrived

    def connection_made(self, transport):
        super().connection_made(transport)
        if self.worker.nr_conns > self.worker.worker_connections:
            # gunicorn's asyncio worker counts connections but does not cap them: past KAMENG_SERVE_CONNECTIONS
            # a newcomer is told at once to come back, before it can hold a file descriptor.
            self._send_error_response(503, "too many connections", extra_headers=(("Retry-After", "1"),))
            self._close_transport()
            if self._request_ready is not None:
                self._request_ready.set()  # the connection's task ends now instead of waiting for a request
            return
        if self._speaks_http1():
            self._arm_header_deadline()  # a connection that never says anything is bounded too

    def data_received(self, data):
        # A byte of a new request (the previous one is answered and forgotten): its head is now awaited.
        if data and self._speaks_http1() and self._current_request is None and not self._closed:
            self._head_started = True
            if self._header_timer is None:
                self._arm_header_deadline()
        super().data_received(data)

    def _on_headers_complete(self):
        self._cancel_header_deadline()
        self._head_started = False
        return super()._on_headers_complete()

    def connection_lost(self, exc):
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _speaks_http1(self) -> bool:
        """HTTP/1 through the callback parser: not HTTP/2, a WebSocket, uWSGI or an undecided h2c preface."""
        return (self._callback_parser is not None and self.reader is None and self._websocket is None
                and self._h2c_buffer is None)

    def _arm_header_deadline(self):
        if self._header_timeout and self._header_timeout > 0:
            self._header_timer = self.worker.loop.call_later(self._header_timeout, self._header_deadline_passed)

    def _cancel_header_deadline(self):
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline_passed(self):
        self._header_timer = None
        if self._closed or self._current_request is not None:
            return  # closed meanwhile, or the head arrived in the same turn of the loop
        if self._head_started:
            self.log.info("request headers not received within %g s: 408, connection closed", self._header_timeout)
            self._send_error_response(408, "request headers not received in time")
        self._close_transport()
        # Wake the connection's task so it sees the connection closed instead of waiting for a request.
        if self._request_ready is not None:
            self._request_ready.set()


class KamengWorker(gasgi.ASGIWorker):
    """gunicorn's asyncio worker serving connections through HeaderDeadlineProtocol."""

    def init_process(self):
        from django.conf import settings

        self.header_timeout = float(getattr(settings, "KAMENG_SERVE_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT))
        # The worker builds each connection's protocol from this module-level name (gasgi._serve); this
        # process serves kameng alone, so pointing it at ours is the whole change.
        gasgi.ASGIProtocol = HeaderDeadlineProtocol
        super().init_process()
