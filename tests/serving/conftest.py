"""Serving tests reuse the contract fixtures: one `occuloop server` process per module and the real clients."""

from tests.contract.conftest import clients, server

__all__ = ["clients", "server"]
