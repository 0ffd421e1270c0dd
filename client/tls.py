"""TLS channel credentials for `Client(target, credentials=...)`.

```python
from dcrm.client import Client, tls_credentials

credentials = tls_credentials("tls/ca.crt", "tls/client.crt", "tls/client.key")  # mutual TLS
with Client("127.0.0.1:50061", credentials=credentials) as client:
    ...
```
"""

from __future__ import annotations

import os
from pathlib import Path

import grpc

__all__ = ["tls_credentials"]

MAX_PEM_BYTES = 1 << 20


def _read_pem(path: str | os.PathLike[str], what: str, marker: bytes) -> bytes:
    file = Path(path)
    try:
        data = file.read_bytes()[: MAX_PEM_BYTES + 1]
    except FileNotFoundError:
        raise ValueError(f"{what} {file} does not exist") from None
    except OSError as error:
        raise ValueError(f"{what} {file} cannot be read: {error.strerror}") from None
    if len(data) > MAX_PEM_BYTES or marker not in data:
        raise ValueError(f"{what} {file} is not a PEM file with a {marker.decode().strip('-')} block")
    return data


def tls_credentials(
    ca_file: str | os.PathLike[str],
    cert_file: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> grpc.ChannelCredentials:
    """Credentials that trust the CA in `ca_file` (PEM) and, with `cert_file` and `key_file`, present a
    client certificate (mutual TLS).

    Raises ValueError when only one of `cert_file` and `key_file` is given, or a file is missing or not PEM.
    """
    if (cert_file is None) != (key_file is None):
        raise ValueError("a client certificate needs both cert_file and key_file")
    root = _read_pem(ca_file, "CA certificate file", b"-----BEGIN CERTIFICATE-----")
    if cert_file is None or key_file is None:
        return grpc.ssl_channel_credentials(root_certificates=root)
    chain = _read_pem(cert_file, "client certificate file", b"-----BEGIN CERTIFICATE-----")
    key = _read_pem(key_file, "client key file", b"PRIVATE KEY-----")
    return grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=chain)
