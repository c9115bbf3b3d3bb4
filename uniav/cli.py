"""The `uniav` command line: one sub-command per module in `uniav.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from uniav import __version__
from uniav.commands import convert_official, evaluate, extract, predict, push, synth, train
from uniav.media.errors import MediaError

COMMANDS = (predict, train, evaluate, extract, synth, convert_official, push)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uniav",
        description="UniAV: localize visual actions, sound events and audio-visual events in videos.",
    )
    parser.add_argument("--version", action="version", version=f"uniav {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, KeyError, RuntimeError, MediaError) as exc:
        # Expected failures (bad input, mismatched checkpoints...) get one clear line, no traceback.
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"uniav {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
