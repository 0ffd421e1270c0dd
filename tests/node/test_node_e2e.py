"""A real node process driven through the SDK: the whole life of a transaction, reads and bad input."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from dcrm.client import (
    AlreadyExists,
    Client,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    RoleNotHeld,
    Unauthenticated,
)
from dcrm.client.keys import SigningKey
from dcrm.client.system import role_key
from dcrm.client.transactions import build_transaction, transaction_hash
from dcrm.v1 import node_pb2, node_pb2_grpc, system_pb2, types_pb2
from tests.support.node_process import NodeProcess, local_node, wait_until
from tests.support.runtime_harness import deterministic_key

ALICE = deterministic_key(1)


def remark_tx(
    client: Client, key: SigningKey, nonce: int, note: bytes = b"hi", valid_until: int | None = None
) -> types_pb2.Transaction:
    return build_transaction(
        key,
        chain_id=client.chain_id(),
        nonce=nonce,
        valid_until=client.status().height + 1000 if valid_until is None else valid_until,
        module=0,
        method=2,
        args=system_pb2.Remark(note=note),
    )


def test_grant_role_commits_and_reads_verify(node: NodeProcess, client: Client) -> None:
    admin = client.account(node.admin)
    receipt = client.system.grant_role(admin, ALICE.account_id, "issuer")
    assert receipt.success
    assert receipt.height >= 1
    assert client.query_state(role_key("issuer", ALICE.account_id)) == b"\x01"
    assert client.query_state(role_key("controller", ALICE.account_id)) is None  # verified non-inclusion
    assert client.system.nonce(node.admin.account_id) == 1
    status = client.transaction(receipt.tx_hash)
    assert status.state == node_pb2.TransactionStatus.COMMITTED
    block = client.block(height=receipt.height)
    assert transaction_hash(block.block.transactions[receipt.index]) == receipt.tx_hash


def test_failed_call_is_committed_with_its_error(node: NodeProcess, client: Client) -> None:
    alice = client.account(ALICE)
    with pytest.raises(PermissionDenied, match="admin"):
        client.system.grant_role(alice, ALICE.account_id, "issuer")  # refused at admission
    assert client.system.nonce(ALICE.account_id) == 0  # nothing written
    admin = client.account(node.admin)
    with pytest.raises(RoleNotHeld, match="does not hold role 'admin'") as caught:
        client.system.revoke_role(admin, ALICE.account_id, "admin")  # admitted, fails at dispatch
    assert caught.value.receipt.height >= 1
    assert client.system.nonce(node.admin.account_id) == 1  # the failed call used its nonce
    assert client.system.role_members("admin") == [node.admin.account_id]


def nothing_written(client: Client, key: SigningKey, tx: types_pb2.Transaction) -> None:
    assert client.system.nonce(key.account_id) == 0
    with pytest.raises(NotFound):
        client.transaction(transaction_hash(tx))


def test_bad_input_gets_precise_status_and_writes_nothing(node: NodeProcess, client: Client) -> None:
    good = remark_tx(client, ALICE, 0)
    cases: list[tuple[types_pb2.Transaction, type[Exception], str]] = [
        (types_pb2.Transaction(body=b"\x0a\xff\xff", signature=good.signature), InvalidArgument, "TxBody"),
        (
            types_pb2.Transaction(body=good.body, signature=deterministic_key(9).sign_recoverable(good.body)),
            Unauthenticated,
            "not the sender",
        ),
        (types_pb2.Transaction(body=good.body, signature=b"\x01" * 65), Unauthenticated, "signature"),
        (remark_tx(client, ALICE, 0, note=b"x" * 300), InvalidArgument, "note is 300 bytes, at most 256"),
        (remark_tx(client, ALICE, 0, note=b"x" * 200_000), InvalidArgument, "transaction is [0-9]+ bytes, at most"),
        (remark_tx(client, ALICE, 500), FailedPrecondition, "ahead of the next nonce"),
        (remark_tx(client, ALICE, 0, valid_until=0), FailedPrecondition, "valid_until"),
    ]
    for tx, error, words in cases:
        with pytest.raises(error, match=words):
            client.submit(tx)
        nothing_written(client, ALICE, tx)
    wrong_chain = types_pb2.TxBody.FromString(good.body)
    wrong_chain.chain_id = "elsewhere"
    body = wrong_chain.SerializeToString()
    with pytest.raises(FailedPrecondition, match="chain_id"):
        client.submit(types_pb2.Transaction(body=body, signature=ALICE.sign_recoverable(body)))
    grant = build_transaction(
        ALICE,
        chain_id=client.chain_id(),
        nonce=0,
        valid_until=10_000,
        module=0,
        method=0,
        args=system_pb2.GrantRole(account=ALICE.account_id, role="admin"),
    )
    with pytest.raises(PermissionDenied, match="requires role 'admin'"):
        client.submit(grant)
    nothing_written(client, ALICE, grant)
    assert client.status().mempool_size == 0


def test_replayed_and_duplicate_transactions(client: Client) -> None:
    tx = remark_tx(client, ALICE, 0)
    receipt = client.submit_and_wait(tx)
    assert receipt.success
    with pytest.raises(FailedPrecondition, match="was used"):
        client.submit(tx)  # replay of a committed transaction
    pending = remark_tx(client, ALICE, 5)  # waits for nonces 1-4, so it stays pending
    client.submit(pending)
    with pytest.raises(AlreadyExists):
        client.submit(pending)
    with pytest.raises(AlreadyExists, match="nonce 5"):
        client.submit(remark_tx(client, ALICE, 5, note=b"other"))


def test_unknown_things_are_not_found_and_malformed_requests_invalid(node: NodeProcess, client: Client) -> None:
    with pytest.raises(NotFound):
        client.transaction(b"\x00" * 32)
    with pytest.raises(NotFound):
        client.block(height=10_000_000)
    with grpc.insecure_channel(node.endpoint) as channel:
        stub = node_pb2_grpc.NodeStub(channel)
        calls: list[tuple[Any, Message]] = [
            (stub.GetTransaction, node_pb2.GetTransactionRequest(tx_hash=b"short")),
            (stub.GetBlock, node_pb2.GetBlockRequest()),
            (stub.QueryState, node_pb2.QueryStateRequest(key=b"")),
            (stub.Query, node_pb2.QueryRequest(module="system", method="account", args=b"\xff\xff")),
        ]
        for call, request in calls:
            with pytest.raises(grpc.RpcError) as caught:
                call(request, timeout=10)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        with pytest.raises(grpc.RpcError) as caught:
            stub.Query(node_pb2.QueryRequest(module="nosuch", method="x"), timeout=10)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_mempool_bound_rejects_with_resource_exhausted(tmp_path: object) -> None:
    from pathlib import Path

    node = local_node(Path(str(tmp_path)) / "small")
    node.extra_config = "[mempool]\nmax_transactions = 4\nmax_per_sender = 2\n"
    node.start()
    try:
        with Client(node.endpoint) as client:
            # Nonces 1.. wait for a nonce 0 that never comes, so they stay pending and fill the pool.
            senders = [deterministic_key(100 + i) for i in range(5)]
            for key in senders[:4]:
                client.submit(remark_tx(client, key, 1))
            with pytest.raises(ResourceExhausted, match="mempool is full"):
                client.submit(remark_tx(client, senders[4], 1))
            assert client.status().mempool_size == 4
    finally:
        node.kill()


def test_streams_resume_without_gaps(node: NodeProcess, client: Client) -> None:
    alice = client.account(ALICE)
    for index in range(3):
        alice.submit_and_wait(0, 2, system_pb2.Remark(note=bytes([index])))
    seen: list[node_pb2.TxEvents] = []
    for response in client.events(1, module="system"):
        seen.extend(response.transactions)
        if len(seen) >= 2:
            resume_from = response.height + 1
            break
    for response in client.events(resume_from, module="system"):
        seen.extend(response.transactions)
        if len(seen) >= 3:
            break
    notes = [system_pb2.Remarked.FromString(tx.events[0].data).note_hash for tx in seen]
    assert len(notes) == len(set(notes)) == 3
    heights = [block.height for _, block in zip(range(3), client.blocks(0), strict=False)]
    assert heights == [0, 1, 2]


def test_restart_resumes_the_same_chain(node: NodeProcess, client: Client) -> None:
    receipt = client.submit_and_wait(remark_tx(client, ALICE, 0))
    head = client.status()
    assert node.stop() == 0
    node.start()
    with Client(node.endpoint) as again:
        wait_until(lambda: again.status().height >= head.height, 30, "the restarted node's head")
        assert again.status().genesis_hash == head.genesis_hash
        assert again.transaction(receipt.tx_hash).receipt == receipt
        assert again.system.nonce(ALICE.account_id) == 1
