"""Tests for the WSGI routes and the command line."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from hoist_hello import __version__
from hoist_hello.app import create_app
from hoist_hello.cli import build_parser, main


@pytest.fixture
def client() -> FlaskClient:
    """A Flask test client for a fresh application."""
    return create_app().test_client()


def test_index_greets_with_version(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == f"Hello from hoist-hello {__version__}\n"


def test_healthz_reports_ok_and_version(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "version": __version__}


def test_unknown_route_is_404(client: FlaskClient) -> None:
    assert client.get("/nope").status_code == 404


def test_version_is_not_a_placeholder() -> None:
    assert __version__ and __version__ != "0+unknown"


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == __version__


def test_cli_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert capsys.readouterr().out.strip() == f"OK hoist-hello {__version__}"


def test_cli_serve_defaults() -> None:
    parser = build_parser()
    assert parser.parse_args(["serve"]).bind == "127.0.0.1:8080"
    assert parser.parse_args(["serve", "--bind", "0.0.0.0:9"]).bind == "0.0.0.0:9"
