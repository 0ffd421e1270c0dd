"""Identity module storage items.

A DID's history is kept in full because the state tree holds only the latest value of each key:
`identity/did/<msid>` names the newest version, `identity/version/<msid>/<n>` holds version n (n = 1, 2, ...),
so version n's predecessor is version n - 1 and resolution at a past height or time is a binary search.
"""

from __future__ import annotations

from dcrm.runtime.modules.identity.errors import MODULE
from dcrm.runtime.storage import BYTES, U64, StorageMap, proto_codec
from dcrm.v1 import identity_pb2

# method-specific id -> newest version number of the DID
DID_HEAD: StorageMap[int] = StorageMap(MODULE, "did", U64)
# method-specific id + b"/" + 8-byte big-endian version -> that version of the DID
DID_VERSIONS: StorageMap[identity_pb2.DidVersion] = StorageMap(MODULE, "version", proto_codec(identity_pb2.DidVersion))
# method-specific id -> the issuer record while the DID is a registered issuer
ISSUERS: StorageMap[identity_pb2.IssuerRecord] = StorageMap(MODULE, "issuer", proto_codec(identity_pb2.IssuerRecord))
# issuer msid + b"/" + name + b"/" + version -> schema
SCHEMAS: StorageMap[identity_pb2.SchemaRecord] = StorageMap(MODULE, "schema", proto_codec(identity_pb2.SchemaRecord))
# issuer msid + b"/" + list id -> status list metadata
STATUS_LISTS: StorageMap[identity_pb2.StatusListRecord] = StorageMap(
    MODULE, "status_list", proto_codec(identity_pb2.StatusListRecord)
)
# issuer msid + b"/" + list id + b"/" + 4-byte big-endian chunk number -> CHUNK_BYTES of status bits.
# A chunk with no set bit is absent, so a fresh list costs no storage and a status change rewrites one chunk.
STATUS_CHUNKS: StorageMap[bytes] = StorageMap(MODULE, "status_bits", BYTES)
CHUNK_BYTES = 1024


def version_key(msid: str, version: int) -> bytes:
    return msid.encode() + b"/" + version.to_bytes(8, "big")


def schema_key(msid: str, name: str, version: str) -> bytes:
    return f"{msid}/{name}/{version}".encode()


def list_key(msid: str, list_id: str) -> bytes:
    return f"{msid}/{list_id}".encode()


def chunk_key(msid: str, list_id: str, chunk: int) -> bytes:
    return list_key(msid, list_id) + b"/" + chunk.to_bytes(4, "big")
