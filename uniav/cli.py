"""The `uniav` command line: one sub-command per module in `uniav.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from uniav import __version__
from uniav.commands import convert_official, evaluate, extract, predict, push, sounds, synth, train

COMMANDS = (predict, train, evaluate, extract, synth, sounds, convert_official, push)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command; given `command`, only that one's arguments are built (building a
    command's arguments may import what it needs, e.g. its configuration defaults: the others need not)."""
    parser = argparse.ArgumentParser(
        prog="uniav",
        description="UniAV: localize visual actions, sound events and audio-visual events in videos.",
    )
    parser.add_argument("--version", action="version", version=f"uniav {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        if command is None or command == module.NAME:
            module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    named = argv[0] if argv and argv[0] in {m.NAME for m in COMMANDS} else None
    args = build_parser(named).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _expected(exc):
            raise
        # Expected failures (bad input, mismatched checkpoints...) get one clear line, no traceback.
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"uniav {args.command}: error: {msg}", file=sys.stderr)
        return 2


def _expected(exc: Exception) -> bool:
    """Whether `exc` is a failure to report in one line (bad input, a file that is not media...)."""
    from uniav.media.errors import MediaError  # imported here: the media layer loads PyAV and NumPy

    return isinstance(exc, (FileNotFoundError, ValueError, KeyError, RuntimeError, MediaError))


if __name__ == "__main__":
    raise SystemExit(main())
