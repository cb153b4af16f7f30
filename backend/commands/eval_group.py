"""`kiln-backend eval ...`: the group that evaluation sub-commands join.

Any command module adds an evaluation with::

    from backend.commands.eval_group import eval_subcommands

    def register(subparsers):
        parser = eval_subcommands(subparsers).add_parser("vae", help="...")
        parser.set_defaults(func=run)

``eval_subcommands`` creates the ``eval`` parser the first time it is called and returns the same
sub-command group afterwards, so modules can register in any order.
"""
from __future__ import annotations

import argparse


def eval_subcommands(subparsers) -> argparse._SubParsersAction:
    """The ``eval`` group's sub-command action, created on first use (also when another module
    created the ``eval`` parser itself)."""
    parser = subparsers.choices.get("eval")
    if parser is None:
        parser = subparsers.add_parser("eval", help="measure ops and models on folders of test data",
                                       description="Measure Kiln's ops and models on folders of test data.")
        parser.set_defaults(func=lambda args: parser.print_help() or 2)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="eval_command", metavar="EVALUATION")


def register(subparsers) -> None:
    """Make sure ``eval`` exists even before any evaluation registers."""
    eval_subcommands(subparsers)
