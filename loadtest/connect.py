"""Endpoints and TLS for the load tools: "host:port,host:port" lists, and credentials from PEM files."""

from __future__ import annotations

from pathlib import Path

import grpc

from dcrm.client import tls_credentials

__all__ = ["channel_credentials", "parse_targets", "rotated"]


def parse_targets(text: str) -> list[str]:
    """The endpoints of a comma-separated list ("127.0.0.1:50051,127.0.0.1:50052"). Raises ValueError if empty
    or when an endpoint has no port."""
    targets = [part.strip() for part in text.split(",") if part.strip()]
    if not targets:
        raise ValueError("at least one endpoint (host:port) is needed")
    for target in targets:
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"endpoint {target!r} is not host:port")
    return targets


def rotated(targets: list[str], first: int) -> list[str]:
    """`targets` starting at index `first` (modulo their number): spreads clients over nodes, the others
    following as failover."""
    start = first % len(targets)
    return targets[start:] + targets[:start]


def channel_credentials(
    ca_file: str | Path | None = None, cert_file: str | Path | None = None, key_file: str | Path | None = None
) -> grpc.ChannelCredentials | None:
    """TLS credentials (the SDK's `tls_credentials`) when a CA file is given, with a client certificate for
    mutual TLS when its certificate and key are given; None (plaintext) without a CA.

    Raises ValueError for a client certificate without a CA, only one of certificate and key, or a file that
    is missing or not PEM.
    """
    if ca_file is None:
        if cert_file is not None or key_file is not None:
            raise ValueError("a client certificate needs the CA of the node's certificate (--tls-ca) too")
        return None
    return tls_credentials(ca_file, cert_file, key_file)
