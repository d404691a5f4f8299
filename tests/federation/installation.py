"""One installation in a process of its own, for the two-installation tests and the delivery
benchmark: ``python -m tests.federation.installation`` with its settings in the environment
(INSTALLATION_DATABASE_URL, INSTALLATION_PORT, INSTALLATION_SETTINGS as JSON). The schema is
made beforehand (by migrations); this only serves HTTP on 127.0.0.1 until terminated."""

from __future__ import annotations

import json
import os
import sys

from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def main() -> None:
    settings = {
        "SQLALCHEMY_DATABASE_URI": os.environ["INSTALLATION_DATABASE_URL"],
        "WTF_CSRF_ENABLED": True,
        **json.loads(os.environ["INSTALLATION_SETTINGS"]),
    }
    app = create_app(settings)
    server = make_server(
        "127.0.0.1", int(os.environ["INSTALLATION_PORT"]), app, threaded=True, request_handler=_QuietHandler
    )
    print("ready", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
