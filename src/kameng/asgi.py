"""The front end of `kameng serve`: slow clients wait in an event loop, never in a request thread.

A thread-per-connection server gives a thread to every client from its first byte: twenty clients
that dribble their headers a byte at a time occupy every thread, and the site stops answering. Here
gunicorn's asyncio worker reads each request — headers (within a deadline, `kameng.serve_worker`) and the
whole body (bounded in size by `core.body_limits`, in pace by KAMENG_SERVE_BODY_IDLE_TIMEOUT) — in its event loop, where a waiting client costs a few kilobytes and no thread.
Only a complete request is handed to Django (a plain WSGI application, so views, transactions and
database connections work exactly as under any WSGI server) in a pool of threads; the answer goes
back through the event loop, chunk by chunk, so a streamed dossier is never held whole.

This is the buffering a proxy such as nginx does in front of a WSGI server, built in, so that a
bare `kameng serve` is safe on its own; a proxy in front stays welcome.
"""

import asyncio
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_to_bytes

from kameng.core import body_limits

SPOOL_IN_MEMORY = 1024 * 1024  # a body above this waits in a temporary file, never whole in memory


def _header(headers, name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def build_environ(scope, body, length: int) -> dict:
    """The WSGI environ (PEP 3333) for an ASGI HTTP scope whose body has been read into `body`."""
    raw_path = scope.get("raw_path")
    path = unquote_to_bytes(raw_path) if raw_path else scope["path"].encode("utf-8")
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(length),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    for key, value in scope.get("headers", []):
        name = key.decode("latin-1").upper().replace("-", "_")
        if name in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body is whole now: its length is the one above
        if name != "CONTENT_TYPE":
            name = f"HTTP_{name}"
        text = value.decode("latin-1")
        environ[name] = f"{environ[name]},{text}" if name in environ else text
    return environ


class BufferedWSGI:
    """An ASGI application that reads whole requests, then runs the WSGI `app` in `threads` threads."""

    def __init__(self, app, *, threads: int, body_idle_timeout: float | None = None):
        self.app = app
        self.body_idle_timeout = body_idle_timeout or None  # None: gunicorn's own wait (its `timeout`) alone
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kameng-request")

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        # websockets: not served; returning closes the connection

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _refuse(self, send, path, limit, status):
        status, content_type, body = body_limits.refusal(path, limit, status=status)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def _http(self, scope, receive, send):
        path = scope["path"]
        limit = body_limits.limit_for(path)
        declared = body_limits.declared_length(_header(scope.get("headers", []), b"content-length"))
        if declared is not None and (declared < 0 or declared > limit):
            return await self._refuse(send, path, limit, 400 if declared < 0 else 413)
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        try:
            size = 0
            while True:
                try:
                    message = await asyncio.wait_for(receive(), self.body_idle_timeout)
                except TimeoutError:
                    message = {"type": "http.disconnect"}
                if message["type"] == "http.disconnect":
                    # The client left, or sent no piece of its body for KAMENG_SERVE_BODY_IDLE_TIMEOUT (or
                    # gunicorn's own `timeout`). One still there is told why (408) and its connection closed
                    # (its body is unread), never handed a 500; an answer to one that left goes nowhere.
                    return await self._refuse(send, path, limit, 408)
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:  # a chunked body (no Content-Length) that outgrows its room
                    return await self._refuse(send, path, limit, 413)
                if chunk:
                    body.write(chunk)
                if not message.get("more_body"):
                    break
            body.seek(0)
            loop = asyncio.get_running_loop()
            last = await loop.run_in_executor(self.pool, self._respond, build_environ(scope, body, size), send, loop)
            for message in last:
                await send(message)
        finally:
            body.close()

    def _respond(self, environ, send, loop) -> list[dict]:
        """In a pool thread: run the WSGI app and pass its answer to the event loop as it comes.

        Returns the last messages (the last chunk, and the head if it has not gone yet) for the event loop
        to send once this thread is done: a plain answer crosses between the threads once, not twice.
        """
        started: dict = {}

        def deliver(*messages):
            async def go():
                for message in messages:
                    await send(message)

            asyncio.run_coroutine_threadsafe(go(), loop).result()

        def start_response(status, headers, exc_info=None):
            if exc_info is not None and started.get("sent"):
                raise exc_info[1].with_traceback(exc_info[2])
            started["message"] = {
                "type": "http.response.start",
                "status": int(status.split(" ", 1)[0]),
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
            return lambda data: chunks_out(data, more=True)

        def messages_for(data: bytes, *, more: bool) -> list[dict]:
            messages = []
            if not started.get("sent"):
                messages.append(started["message"])
                started["sent"] = True
            messages.append({"type": "http.response.body", "body": bytes(data), "more_body": more})
            return messages

        def chunks_out(data: bytes, *, more: bool):
            deliver(*messages_for(data, more=more))

        result = self.app(environ, start_response)
        try:
            # One chunk is held back so the last goes out marked as last: a plain answer is a single
            # hand-over to the event loop (head and body together), made by returning it.
            pending = None
            for chunk in result:
                if not chunk:
                    continue
                if pending is not None:
                    chunks_out(pending, more=True)
                pending = chunk
            return messages_for(pending or b"", more=False)
        finally:
            if hasattr(result, "close"):
                result.close()


def application(*, threads: int):
    from django.conf import settings

    from kameng.wsgi import application as wsgi_application

    return BufferedWSGI(wsgi_application, threads=threads, body_idle_timeout=settings.KAMENG_SERVE_BODY_IDLE_TIMEOUT)
