"""``occ conflicts serve``: the review web app on a conflict store, standalone."""

from __future__ import annotations

import argparse
from typing import Any

from occ._cli._stores import OpenStore

__all__ = ["add_serve_parser", "serve"]


def add_serve_parser(verbs: Any, common: argparse.ArgumentParser) -> None:
    """Add ``occ conflicts serve``."""
    verbs.add_parser("serve", parents=[common], help="serve the review web app")


def serve(opened: OpenStore, args: argparse.Namespace) -> int:
    """Run the review app until interrupted."""
    raise NotImplementedError
