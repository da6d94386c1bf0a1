"""The ``aibridge`` console script.

gevent's monkey patching must happen before anything else is imported, and
only for the server: ``users``, ``tokens`` and the other commands are plain
blocking programs.
"""

import sys


def main(argv: list[str] | None = None) -> None:
    """Patch for gevent when the subcommand is ``server``, then run the command line."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["server"]:
        from gevent import monkey

        monkey.patch_all()
    from aibridge.cli import main as run

    run(args)


if __name__ == "__main__":
    main()
