"""The ``biosim`` command: ``biosim run``, ``biosim sweep``, ``biosim vpr``.

Each subcommand lives beside the code it drives, in a module that defines
``add_arguments(parser)`` and ``main(args) -> int``; this file only dispatches.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

COMMANDS = {
    "run": ("biosim.spec_cli", "build and run a model spec (models/*.toml)"),
    "sweep": ("biosim.sweep.cli", "sweep parameters of a spec or a function, resumable"),
    "vpr": ("biosim.vpr.cli", "visual place recognition: make-synthetic, baseline, train, eval"),
}


def build_parser():
    """The argument parser and the subcommand modules, by name."""
    from biosim import __version__

    parser = argparse.ArgumentParser(
        prog="biosim", description="biosim: spiking and bio-inspired neural simulation.")
    parser.add_argument("--version", action="version", version=f"biosim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue  # optional family not installed / not built yet
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        modules[name] = module
    return parser, modules


def parse(argv=None):
    """``(module, args)``: the arguments parsed and checked (a subcommand's optional
    ``check_args(args)``) before anything runs; bad values raise BiosimError."""
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    module = modules[args.command]
    if hasattr(module, "check_args"):
        module.check_args(args)
    return module, args


def main(argv=None) -> int:
    from biosim.core.validation import BiosimError, BiosimWarning

    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), "command")
    plain = warnings.formatwarning

    def one_line(message, category, *rest, **kw):  # a BiosimWarning reads as an error does
        if issubclass(category, BiosimWarning):
            return f"biosim {command}: warning: {message}\n"
        return plain(message, category, *rest, **kw)

    warnings.formatwarning = one_line
    try:
        module, args = parse(argv)
        return int(module.main(args) or 0)
    except BiosimError as e:
        print(f"biosim {command}: error: {e}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = plain


if __name__ == "__main__":
    sys.exit(main())
