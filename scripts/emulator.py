"""The local AWS emulator: moto's server, handling one request at a time.

Usage: emulator.py [-H HOST] [-p PORT]   (the same options as `moto_server`)

DynamoDB applies every request atomically: a conditional write's check and its update are
one step, `ADD` on a counter never loses an increment, and a transaction is all-or-nothing
against every other request. moto's threaded server gives none of that when requests
overlap (two transactions touching one counter item can each overwrite the other's
increment). Terraform applies resources in parallel, so the tests, the quickstart and the
scale bench serve moto's application behind one lock: connections stay concurrent, request
handling is serialized, and the emulator keeps DynamoDB's per-request atomicity.
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def serialized(app):
    """Wraps a WSGI app so that requests run (and their bodies are produced) one at a time."""
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            result = app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]

    return handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, serialized(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
