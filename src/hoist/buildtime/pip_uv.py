"""A ``pip install`` that runs uv, for dh-virtualenv's ``--pip-tool``.

dh-virtualenv runs ``<venv>/bin/python <pip-tool> install --log=<file> [extra
pip args] -r <requirements>`` (dh_virtualenv/deployment.py).  This script,
given as an absolute ``--pip-tool``, runs with the virtualenv's interpreter
and only the standard library, and turns that into::

    uv pip install --python <venv python> [the same arguments, less --log]

with uv's cache untouched by debhelper (``UV_LINK_MODE=copy``, FIELD-NOTES).
The uv executable is ``$HOIST_UV``.
"""

import os
import sys


def main(argv):
    if not argv or argv[0] != "install":
        sys.stderr.write("pip_uv: only `install` is supported, got %r\n" % (argv,))
        return 2
    uv = os.environ.get("HOIST_UV")
    if not uv:
        sys.stderr.write("pip_uv: HOIST_UV must name the uv executable\n")
        return 2
    args = [a for a in argv[1:] if not a.startswith("--log=") and a != "--no-compile"]
    os.environ["UV_LINK_MODE"] = "copy"
    os.environ.setdefault("UV_NO_PROGRESS", "1")
    os.execv(uv, [uv, "pip", "install", "--python", sys.executable, *args])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
