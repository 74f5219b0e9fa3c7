"""`kameng serve`: gunicorn's asyncio worker in a few processes, requests read whole in the event loop
and answered by Django in a pool of threads (`kameng.asgi`), with the background worker in-process."""

import os

from gunicorn.app.base import BaseApplication


def _post_worker_init(worker):
    from kameng.core.worker import start_in_thread

    start_in_thread()


class KamengServer(BaseApplication):
    def __init__(self, options: dict, *, threads: int):
        self.options = options
        self.threads = threads
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from kameng.asgi import application

        return application(threads=self.threads)


def serve(*, host: str, port: int, workers: int | None, with_worker: bool, threads: int | None = None) -> None:
    from django.conf import settings
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers or (2 if sqlite else min(4, 2 * (os.cpu_count() or 1))),
        # Slow clients wait in the event loop, not in a thread (kameng.asgi); threads run Django. gunicorn's
        # asyncio worker, with a deadline on reading request headers (kameng.serve_worker).
        "worker_class": "kameng.serve_worker.KamengWorker",
        "worker_connections": int(os.environ.get("KAMENG_SERVE_CONNECTIONS", "1000")),
        "asgi_lifespan": "on",
        # HTTPS behind a proxy is Django's decision alone (KAMENG_TRUST_X_FORWARDED_PROTO).
        "forwarded_allow_ips": "",
        # The worker's heartbeat, and gunicorn's own longest wait for a piece of a body (kameng.asgi waits
        # KAMENG_SERVE_BODY_IDLE_TIMEOUT). Header sizes keep gunicorn's limits (request line 4094 bytes,
        # 100 fields of 8190 bytes: 414 / 431); header time is kameng.serve_worker's.
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": os.environ.get("KAMENG_ACCESS_LOG", "-") or None,  # empty: no access log
        "errorlog": "-",
        "loglevel": "info",
    }
    if with_worker:
        options["post_worker_init"] = _post_worker_init
    KamengServer(options, threads=threads or int(os.environ.get("KAMENG_SERVE_THREADS", "8"))).run()
