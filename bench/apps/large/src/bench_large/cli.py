"""``bench-large``: print the version and the versions of a few binary dependencies."""

import sys

from . import __version__


def main() -> int:
    import cryptography
    import lxml.etree
    import PIL
    import psycopg2

    print(f"bench-large {__version__}")
    print(f"cryptography {cryptography.__version__}, lxml {lxml.etree.__version__}, "
          f"pillow {PIL.__version__}, psycopg2 {psycopg2.__version__.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
