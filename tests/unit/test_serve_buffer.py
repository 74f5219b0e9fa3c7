"""kameng.asgi.BufferedWSGI: a plain answer goes out whole, a streamed one chunk by chunk and in order."""

import asyncio
import threading

from kameng.asgi import BufferedWSGI

SCOPE = {"type": "http", "method": "GET", "path": "/export", "raw_path": b"/export", "query_string": b"",
         "headers": [(b"host", b"example")], "http_version": "1.1", "scheme": "http"}


def serve(app) -> list[dict]:
    """One GET through BufferedWSGI; the messages it sent, each noted with whether the app was still running."""
    running = threading.Event()
    sent = []

    def wsgi(environ, start_response):
        running.set()
        try:
            yield from app(environ, start_response)
        finally:
            running.clear()

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append((message["type"], message.get("status"), message.get("body"), message.get("more_body"),
                     running.is_set()))

    server = BufferedWSGI(wsgi, threads=2)
    # In a thread of its own: other tests (Playwright's sync API) may leave an event loop running in this one.
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(asyncio.run(server(SCOPE, receive, send))))
    try:
        runner.start()
        runner.join(30)
    finally:
        server.pool.shutdown()
    assert outcome == [None], "the request did not complete"
    return sent


def test_a_plain_answer_goes_out_as_head_and_whole_body():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        yield b'{"ok": true}'

    assert serve(app) == [("http.response.start", 200, None, None, False),
                          ("http.response.body", None, b'{"ok": true}', False, False)]


def test_a_streamed_answer_goes_out_chunk_by_chunk_while_it_is_made():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/csv")])
        yield b"a,b\n"
        yield b""  # an empty piece sends nothing
        yield b"1,2\n"
        yield b"3,4\n"

    sent = serve(app)
    assert [(kind, status, body, more) for kind, status, body, more, _ in sent] == [
        ("http.response.start", 200, None, None), ("http.response.body", None, b"a,b\n", True),
        ("http.response.body", None, b"1,2\n", True), ("http.response.body", None, b"3,4\n", False)]
    # The first pieces left while the app was still making the rest: nothing is held whole.
    assert [still_running for *_, still_running in sent] == [True, True, True, False]
