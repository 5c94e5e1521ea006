"""Allow ``python -m hoist_hello``."""

from hoist_hello.cli import main

raise SystemExit(main())
