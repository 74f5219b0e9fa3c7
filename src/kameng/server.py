"""`kameng serve`: gunicorn (threads in a few processes) with the background worker in-process."""

import os

from gunicorn.app.base import BaseApplication


def _post_worker_init(worker):
    from kameng.core.worker import start_in_thread

    start_in_thread()


class KamengServer(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from kameng.wsgi import application

        return application


def serve(*, host: str, port: int, workers: int | None, with_worker: bool, threads: int | None = None) -> None:
    from django.conf import settings
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers or (2 if sqlite else min(4, 2 * (os.cpu_count() or 1))),
        "worker_class": "gthread",
        "threads": threads or int(os.environ.get("KAMENG_SERVE_THREADS", "8")),
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": os.environ.get("KAMENG_ACCESS_LOG", "-") or None,  # empty: no access log
        "errorlog": "-",
        "loglevel": "info",
    }
    if with_worker:
        options["post_worker_init"] = _post_worker_init
    KamengServer(options).run()
