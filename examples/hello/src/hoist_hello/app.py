"""The WSGI application: ``hoist_hello.app:app``."""

from __future__ import annotations

from flask import Flask, Response, jsonify

from hoist_hello import __version__


def create_app() -> Flask:
    """Build the Flask application with its two routes."""
    application = Flask(__name__)

    @application.get("/")
    def index() -> Response:
        """Plain-text greeting that names the running version."""
        return Response(
            f"Hello from hoist-hello {__version__}\n", mimetype="text/plain"
        )

    @application.get("/healthz")
    def healthz() -> Response:
        """Liveness probe for load balancers and release smoke tests."""
        return jsonify(status="ok", version=__version__)

    return application


app: Flask = create_app()
