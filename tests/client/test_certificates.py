"""Commit certificate verification: good certificates and every way one can be wrong."""

from __future__ import annotations

import json

import pytest

from dcrm.client.certificates import (
    ValidatorKey,
    block_hash,
    quorum,
    sign_vote,
    validator_keys,
    verify_block,
    verify_commit_certificate,
)
from dcrm.client.errors import CertificateError
from dcrm.client.keys import SigningKey
from dcrm.v1 import node_pb2, types_pb2
from tests.vectors import generate

CHAIN = "dcrm-test"
HEIGHT = 7
VALIDATORS = [SigningKey.from_hex(f"{index:02x}" * 32) for index in range(0x21, 0x25)]
PUBLIC_KEYS: list[ValidatorKey] = [key.public_key for key in VALIDATORS]
OUTSIDER = SigningKey.from_hex("66" * 32)
COMMIT = types_pb2.VoteBody.COMMIT
PREPARE = types_pb2.VoteBody.PREPARE


def make_header(height: int = HEIGHT, chain_id: str = CHAIN) -> bytes:
    return types_pb2.BlockHeader(
        chain_id=chain_id, height=height, parent_hash=b"\x01" * 32, state_root=b"\x02" * 32
    ).SerializeToString()


def make_vote(
    key: SigningKey,
    header: bytes,
    *,
    kind: types_pb2.VoteBody.Kind.ValueType = COMMIT,
    chain_id: str = CHAIN,
    height: int = HEIGHT,
    hashed: bytes | None = None,
    view: int = 0,
) -> types_pb2.SignedVote:
    body = types_pb2.VoteBody(
        kind=kind,
        chain_id=chain_id,
        height=height,
        view=view,
        block_hash=block_hash(header) if hashed is None else hashed,
    )
    return sign_vote(key, body)


def make_certificate(header: bytes, signers: list[SigningKey], height: int = HEIGHT) -> types_pb2.CommitCertificate:
    return types_pb2.CommitCertificate(
        height=height, block_hash=block_hash(header), votes=[make_vote(key, header) for key in signers]
    )


@pytest.mark.parametrize(("n", "needed"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 4), (6, 4), (7, 5), (10, 7)])
def test_quorum(n: int, needed: int) -> None:
    assert quorum(n) == needed


def test_quorum_of_nobody() -> None:
    with pytest.raises(ValueError, match="at least one member"):
        quorum(0)


def test_quorum_of_commit_votes_verifies() -> None:
    header = make_header()
    decoded = verify_commit_certificate(header, make_certificate(header, VALIDATORS[:3]), PUBLIC_KEYS, CHAIN)
    assert decoded.height == HEIGHT
    assert decoded.state_root == b"\x02" * 32
    verify_commit_certificate(header, make_certificate(header, VALIDATORS[1:]), PUBLIC_KEYS, CHAIN)
    verify_commit_certificate(header, make_certificate(header, VALIDATORS), PUBLIC_KEYS, CHAIN)


def test_votes_from_different_views_are_not_one_quorum() -> None:
    header = make_header()
    votes = [make_vote(key, header, view=index % 2) for index, key in enumerate(VALIDATORS[:3])]
    certificate = types_pb2.CommitCertificate(height=HEIGHT, block_hash=block_hash(header), votes=votes)
    with pytest.raises(CertificateError, match="not from one view"):
        verify_commit_certificate(header, certificate, PUBLIC_KEYS, CHAIN)


def test_validators_may_be_given_as_account_ids_or_keys() -> None:
    header = make_header()
    certificate = make_certificate(header, VALIDATORS[:3])
    accounts = [key.account_id for key in VALIDATORS]
    verify_commit_certificate(header, certificate, accounts, CHAIN)
    verify_commit_certificate(header, certificate, [accounts[0], *PUBLIC_KEYS[1:]], CHAIN)


def test_validator_keys_from_status() -> None:
    status = node_pb2.NodeStatus(
        validators=[
            node_pb2.Validator(account=VALIDATORS[0].account_id, public_key=VALIDATORS[0].public_key),
            node_pb2.Validator(account=VALIDATORS[1].account_id),
        ]
    )
    assert validator_keys(status.validators) == [VALIDATORS[0].public_key, VALIDATORS[1].account_id]


def test_vectors_certificate_verifies() -> None:
    vector = json.loads(generate.CERTIFICATES_FILE.read_text())
    certificate = types_pb2.CommitCertificate.FromString(bytes.fromhex(vector["certificate"]))
    keys = [bytes.fromhex(validator["public_key"]) for validator in vector["validators"]]
    header = verify_commit_certificate(bytes.fromhex(vector["header"]), certificate, keys, vector["chain_id"])
    assert header.height == 42
    assert certificate.block_hash.hex() == vector["block_hash"]
    for vote, expected in zip(certificate.votes, vector["votes"], strict=True):
        assert vote.body.hex() == vector["vote_body"]
        assert vote.signature.hex() == expected["signature"]


def _fails(header: bytes, certificate: types_pb2.CommitCertificate, message: str, **kwargs: object) -> None:
    validators = kwargs.get("validators", PUBLIC_KEYS)
    chain_id = kwargs.get("chain_id", CHAIN)
    assert isinstance(validators, list)
    assert isinstance(chain_id, str)
    with pytest.raises(CertificateError, match=message):
        verify_commit_certificate(header, certificate, validators, chain_id)


def test_header_that_does_not_hash_to_the_certificate() -> None:
    header = make_header()
    certificate = make_certificate(header, VALIDATORS[:3])
    _fails(make_header(height=HEIGHT + 1), certificate, "the certificate is for block .*, but the header hashes to")
    certificate.block_hash = b"\x00" * 32
    _fails(header, certificate, "the certificate is for block 0000")


def test_header_for_another_chain_or_height() -> None:
    header = make_header()
    _fails(
        header,
        make_certificate(header, VALIDATORS[:3]),
        "the header is for chain 'dcrm-test', expected 'x'",
        chain_id="x",
    )
    _fails(
        header,
        make_certificate(header, VALIDATORS[:3], height=HEIGHT + 1),
        f"the certificate is for height {HEIGHT + 1}, but the header is at height {HEIGHT}",
    )


def test_header_that_does_not_decode() -> None:
    header = b"\xff\xff\xff"
    certificate = types_pb2.CommitCertificate(height=HEIGHT, block_hash=block_hash(header))
    _fails(header, certificate, "the header does not decode as dcrm.v1.BlockHeader")


def test_too_few_votes() -> None:
    header = make_header()
    _fails(header, make_certificate(header, VALIDATORS[:2]), "2 distinct validators signed, but 3 of 4 are needed")
    _fails(header, make_certificate(header, []), "0 distinct validators signed, but 3 of 4 are needed")


def test_duplicate_signer() -> None:
    header = make_header()
    certificate = make_certificate(header, VALIDATORS[:2])
    certificate.votes.append(make_vote(VALIDATORS[0], header))
    _fails(header, certificate, f"vote 2: validator {VALIDATORS[0].account_id.hex()} already voted")
    # The same validator signing again at another view is still one validator.
    certificate = make_certificate(header, VALIDATORS[:2])
    body = types_pb2.VoteBody(kind=COMMIT, chain_id=CHAIN, height=HEIGHT, view=3, block_hash=block_hash(header))
    certificate.votes.append(sign_vote(VALIDATORS[1], body))
    _fails(header, certificate, "vote 2: validator .* already voted")


def test_unknown_signer() -> None:
    header = make_header()
    certificate = make_certificate(header, [*VALIDATORS[:2], OUTSIDER])
    _fails(header, certificate, f"vote 2: signed by {OUTSIDER.account_id.hex()}, which is not a validator")


def test_prepare_votes_are_not_commits() -> None:
    header = make_header()
    certificate = make_certificate(header, VALIDATORS[:2])
    certificate.votes.append(make_vote(VALIDATORS[2], header, kind=PREPARE))
    _fails(header, certificate, "vote 2: kind is PREPARE, expected COMMIT")
    certificate.votes[2].CopyFrom(make_vote(VALIDATORS[2], header, kind=types_pb2.VoteBody.KIND_UNSPECIFIED))
    _fails(header, certificate, "vote 2: kind is KIND_UNSPECIFIED, expected COMMIT")


def test_votes_for_another_height_chain_or_block() -> None:
    header = make_header()
    cases = [
        (make_vote(VALIDATORS[2], header, height=HEIGHT + 1), f"vote 2: height is {HEIGHT + 1}, expected {HEIGHT}"),
        (make_vote(VALIDATORS[2], header, chain_id="other"), "vote 2: chain id is 'other', expected 'dcrm-test'"),
        (make_vote(VALIDATORS[2], header, hashed=b"\x09" * 32), "vote 2: block hash is 0909"),
    ]
    for vote, message in cases:
        certificate = make_certificate(header, VALIDATORS[:2])
        certificate.votes.append(vote)
        _fails(header, certificate, message)


def test_malformed_votes() -> None:
    header = make_header()
    certificate = make_certificate(header, VALIDATORS[:3])
    certificate.votes[1].signature = certificate.votes[1].signature[:64]
    _fails(header, certificate, "vote 1: a signature must be 65 bytes, got 64")
    certificate = make_certificate(header, VALIDATORS[:3])
    certificate.votes[0].body = b"\xff\xff"
    _fails(header, certificate, "vote 0: the body does not decode as dcrm.v1.VoteBody")


def test_signature_over_another_body_recovers_someone_else() -> None:
    header = make_header()
    certificate = make_certificate(header, VALIDATORS[:3])
    certificate.votes[2].signature = VALIDATORS[2].sign_recoverable(b"something else")
    _fails(header, certificate, "vote 2: signed by .*, which is not a validator")


def test_bad_validator_sets() -> None:
    header = make_header()
    certificate = make_certificate(header, VALIDATORS[:3])
    _fails(header, certificate, "the validator set is empty", validators=[])
    _fails(header, certificate, "validator 1: expected a 33-byte public key or a 20-byte account id, got 5 bytes",
           validators=[PUBLIC_KEYS[0], b"short"])  # fmt: skip
    _fails(header, certificate, "validator 2: account .* is listed twice",
           validators=[*PUBLIC_KEYS[:2], VALIDATORS[0].account_id])  # fmt: skip
    _fails(header, certificate, "validator 0: .* is not a point on secp256k1", validators=[b"\x02" + b"\xff" * 32])


def _block_response(header: bytes) -> node_pb2.BlockResponse:
    return node_pb2.BlockResponse(
        block=types_pb2.Block(header=header),
        certificate=make_certificate(header, VALIDATORS[:3]),
        block_hash=block_hash(header),
        height=HEIGHT,
    )


def test_verify_block() -> None:
    header = make_header()
    assert verify_block(_block_response(header), PUBLIC_KEYS, CHAIN).height == HEIGHT
    response = _block_response(header)
    response.block_hash = b"\x05" * 32
    with pytest.raises(CertificateError, match="the response names block 0505"):
        verify_block(response, PUBLIC_KEYS, CHAIN)
    response = _block_response(header)
    response.height = HEIGHT + 2
    with pytest.raises(
        CertificateError, match=f"the response names height {HEIGHT + 2}, but the header is at {HEIGHT}"
    ):
        verify_block(response, PUBLIC_KEYS, CHAIN)
