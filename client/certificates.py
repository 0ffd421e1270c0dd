"""Commit certificates: proof that a block is final.

A certificate holds commit votes over one block hash. Each vote is a SignedVote whose body is the exact
serialization of a dcrm.v1.VoteBody, signed with a 65-byte recoverable signature over sha256(body). A
certificate is valid for a set of n validators when at least 2f+1 distinct validators, f = (n - 1) // 3,
signed a COMMIT vote for that block's chain id, height and hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from google.protobuf.message import DecodeError

from dcrm.client.errors import CertificateError, SignatureError
from dcrm.client.keys import (
    ACCOUNT_ID_LENGTH,
    PUBLIC_KEY_LENGTH,
    SigningKey,
    account_id_from_public_key,
    recover_public_key,
    sha256,
)
from dcrm.v1 import node_pb2, types_pb2

__all__ = [
    "ValidatorKey",
    "block_hash",
    "quorum",
    "sign_vote",
    "validator_keys",
    "verify_block",
    "verify_commit_certificate",
]

# A validator named by its 33-byte compressed public key or its 20-byte account id.
ValidatorKey = bytes


def block_hash(header: bytes) -> bytes:
    """The block hash: sha256 of the exact header bytes."""
    return sha256(header)


def quorum(n: int) -> int:
    """The votes a certificate needs among n validators tolerating f = (n - 1) // 3 faults.

    The smallest q with 2q - n >= f + 1, so any two quorums share an honest validator: 2f+1 when n = 3f+1,
    more otherwise. The consensus core uses the same rule (dcrm.node.consensus.pbft.validators.quorum_size).
    Raises ValueError when n < 1.
    """
    if n < 1:
        raise ValueError(f"a validator set has at least one member, got {n}")
    return (n + (n - 1) // 3) // 2 + 1


def sign_vote(key: SigningKey, vote: types_pb2.VoteBody | bytes) -> types_pb2.SignedVote:
    """A SignedVote: the vote body serialized once (or given as bytes) and signed by `key`."""
    body = vote if isinstance(vote, bytes) else vote.SerializeToString(deterministic=True)
    return types_pb2.SignedVote(body=body, signature=key.sign_recoverable(body))


def validator_keys(validators: Iterable[node_pb2.Validator]) -> list[ValidatorKey]:
    """The keys of NodeStatus.validators: each one's public key, or its account id when the key is absent."""
    return [validator.public_key or validator.account for validator in validators]


def _validator_accounts(validators: Sequence[ValidatorKey]) -> set[bytes]:
    if not validators:
        raise CertificateError("the validator set is empty")
    accounts: set[bytes] = set()
    for index, validator in enumerate(validators):
        if len(validator) == PUBLIC_KEY_LENGTH:
            try:
                account = account_id_from_public_key(validator)
            except ValueError as error:
                raise CertificateError(f"validator {index}: {error}") from None
        elif len(validator) == ACCOUNT_ID_LENGTH:
            account = bytes(validator)
        else:
            raise CertificateError(
                f"validator {index}: expected a {PUBLIC_KEY_LENGTH}-byte public key or a "
                f"{ACCOUNT_ID_LENGTH}-byte account id, got {len(validator)} bytes"
            )
        if account in accounts:
            raise CertificateError(f"validator {index}: account {account.hex()} is listed twice")
        accounts.add(account)
    return accounts


def verify_commit_certificate(
    header: bytes,
    certificate: types_pb2.CommitCertificate,
    validators: Sequence[ValidatorKey],
    chain_id: str,
) -> types_pb2.BlockHeader:
    """Check that `certificate` proves the block with these exact header bytes final; return the header.

    Checks: the header hashes to the certificate's block hash, decodes, and names `chain_id` and the
    certificate's height; every vote decodes, is a COMMIT for that chain id, height and block hash, and is
    signed by a validator in `validators` that signed no other vote; all votes of one view; at least
    quorum(len(validators)) votes.
    Raises CertificateError naming the first check that fails.
    """
    accounts = _validator_accounts(validators)
    hashed = block_hash(header)
    if hashed != certificate.block_hash:
        raise CertificateError(
            f"the certificate is for block {certificate.block_hash.hex()}, but the header hashes to {hashed.hex()}"
        )
    try:
        decoded = types_pb2.BlockHeader.FromString(header)
    except DecodeError as error:
        raise CertificateError(f"the header does not decode as dcrm.v1.BlockHeader: {error}") from None
    if decoded.chain_id != chain_id:
        raise CertificateError(f"the header is for chain {decoded.chain_id!r}, expected {chain_id!r}")
    if decoded.height != certificate.height:
        raise CertificateError(
            f"the certificate is for height {certificate.height}, but the header is at height {decoded.height}"
        )
    signers: set[bytes] = set()
    views: set[int] = set()
    for index, vote in enumerate(certificate.votes):
        signers.add(_check_vote(index, vote, certificate, chain_id, accounts, signers))
        views.add(types_pb2.VoteBody.FromString(vote.body).view)
    if len(views) > 1:
        # Commits from different views are not one quorum: only votes of one view prove finality.
        raise CertificateError(f"the votes come from views {sorted(views)}, not from one view")
    needed = quorum(len(validators))
    if len(signers) < needed:
        raise CertificateError(
            f"{len(signers)} distinct validators signed, but {needed} of {len(validators)} are needed"
        )
    return decoded


def _check_vote(
    index: int,
    vote: types_pb2.SignedVote,
    certificate: types_pb2.CommitCertificate,
    chain_id: str,
    accounts: set[bytes],
    signers: set[bytes],
) -> bytes:
    """The signer's account id of one vote after checking it; raises CertificateError."""
    try:
        body = types_pb2.VoteBody.FromString(vote.body)
    except DecodeError as error:
        raise CertificateError(f"vote {index}: the body does not decode as dcrm.v1.VoteBody: {error}") from None
    if body.kind != types_pb2.VoteBody.COMMIT:
        raise CertificateError(f"vote {index}: kind is {types_pb2.VoteBody.Kind.Name(body.kind)}, expected COMMIT")
    if body.chain_id != chain_id:
        raise CertificateError(f"vote {index}: chain id is {body.chain_id!r}, expected {chain_id!r}")
    if body.height != certificate.height:
        raise CertificateError(f"vote {index}: height is {body.height}, expected {certificate.height}")
    if body.block_hash != certificate.block_hash:
        raise CertificateError(
            f"vote {index}: block hash is {body.block_hash.hex()}, expected {certificate.block_hash.hex()}"
        )
    try:
        signer = account_id_from_public_key(recover_public_key(vote.body, vote.signature))
    except SignatureError as error:
        raise CertificateError(f"vote {index}: {error}") from None
    if signer not in accounts:
        raise CertificateError(f"vote {index}: signed by {signer.hex()}, which is not a validator")
    if signer in signers:
        raise CertificateError(f"vote {index}: validator {signer.hex()} already voted")
    return signer


def verify_block(
    response: node_pb2.BlockResponse, validators: Sequence[ValidatorKey], chain_id: str
) -> types_pb2.BlockHeader:
    """Check a GetBlock/StreamBlocks answer: its certificate proves its header final, and its block_hash and
    height fields agree with the header. Returns the decoded header.

    Raises CertificateError naming the first check that fails.
    """
    header = verify_commit_certificate(response.block.header, response.certificate, validators, chain_id)
    if response.block_hash != response.certificate.block_hash:
        raise CertificateError(
            f"the response names block {response.block_hash.hex()}, "
            f"but its certificate is for {response.certificate.block_hash.hex()}"
        )
    if response.height != header.height:
        raise CertificateError(f"the response names height {response.height}, but the header is at {header.height}")
    return header
