"""The WSGI application: one Pyramid view that says which release serves it.

It is also the file the benchmark edits between builds (a source change).
"""

from pyramid.config import Configurator
from pyramid.response import Response

from . import __version__


def index(request):
    return Response(f"bench-warehouse {__version__}\n", content_type="text/plain")


def make_app():
    with Configurator() as config:
        config.add_route("index", "/")
        config.add_view(index, route_name="index")
        return config.make_wsgi_app()


application = make_app()
