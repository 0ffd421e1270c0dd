"""The identity, consent and tokens modules end to end: a real node process, driven through the SDK and the CLI.

A customer creates a DID; an admin registers an enterprise as a credential issuer, whose credential verifies
until it is revoked; the enterprise (role controller, with its own DID) asks for consent, the customer grants
it, the check is proven, access is logged, the customer withdraws and the enterprise can no longer log access;
the consent receipt verifies offline; loyalty points are minted, transferred and redeemed. The last test runs a
command of each CLI group against the node.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dcrm.client import Account, Client, save_key, validator_keys
from dcrm.client.consent import ConsentNotValid, ReceiptInvalid, verify_consent_receipt
from dcrm.client.identity import CredentialInvalid, VerificationFailure, issue_credential, verify_credential
from dcrm.node.cli.main import main
from dcrm.v1 import consent_pb2
from tests.support.node_process import NodeProcess
from tests.support.runtime_harness import deterministic_key

ALICE = deterministic_key(41)  # the customer
ACME = deterministic_key(42)  # the enterprise: issuer, consent controller and loyalty program
BOB = deterministic_key(43)  # another customer
DAY_MS = 86_400_000
DCRM = str(Path(sys.executable).with_name("dcrm"))
NOTICE = b"ACME privacy notice v3: we send a monthly newsletter to the address you give us."
TERMS_JSON: dict[str, Any] = {  # dcrm.v1.consent.Terms in protobuf JSON; notice.contentHash comes from NOTICE
    "purposes": [{"id": "newsletter", "category": "dpv:DirectMarketing"}],
    "dataCategories": [{"id": "dpv-pd:EmailAddress"}],
    "lawfulBasis": "dpv-gdpr:A6-1-a",
    "notice": {"url": "https://acme.example/privacy/v3", "version": "v3", "language": "en"},
    "collectionMethod": "web-form",
    "collectionChannel": "website",
    "consentType": "CONSENT_TYPE_EXPRESS",
    "retentionMs": str(365 * DAY_MS),
    "storageLocations": ["EU"],
    "jurisdiction": "EU",
    "withdrawalMethod": "https://acme.example/consent",
}


def terms() -> consent_pb2.Terms:
    return consent_pb2.Terms(
        purposes=[consent_pb2.Purpose(id="newsletter", category="dpv:DirectMarketing")],
        data_categories=[consent_pb2.DataCategory(id="dpv-pd:EmailAddress")],
        lawful_basis="dpv-gdpr:A6-1-a",
        notice=consent_pb2.Notice(
            url="https://acme.example/privacy/v3",
            content_hash=hashlib.sha256(NOTICE).digest(),
            version="v3",
            language="en",
        ),
        collection_method="web-form",
        collection_channel="website",
        consent_type=consent_pb2.CONSENT_TYPE_EXPRESS,
        retention_ms=365 * DAY_MS,
        storage_locations=["EU"],
        jurisdiction="EU",
        withdrawal_method="https://acme.example/consent",
    )


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def enterprise(client: Client, node: NodeProcess, *roles: str) -> tuple[Account, str]:
    """ACME's account with `roles` granted by the admin, and ACME's DID."""
    admin = client.account(node.admin)
    for role in roles:
        client.system.grant_role(admin, ACME.account_id, role)
    acme = client.account(ACME)
    return acme, client.identity.create_did(acme, ACME.public_key).did


# --- identity: DIDs, an issuer, a credential that verifies until it is revoked --------------------------------


def test_a_credential_verifies_until_its_issuer_revokes_it(node: NodeProcess, client: Client) -> None:
    alice = client.account(ALICE)
    alice_did = client.identity.create_did(alice, ALICE.public_key).did
    resolved = client.identity.resolve(alice_did)
    assert resolved["didDocument"]["id"] == alice_did
    assert resolved["didDocument"]["authentication"] == [f"{alice_did}#key-1"]
    assert resolved["didDocumentMetadata"]["versionId"] == "1"

    acme, acme_did = enterprise(client, node)
    client.identity.register_issuer(client.account(node.admin), acme_did)
    assert client.identity.issuer(acme_did) is not None
    schema = client.identity.register_schema(acme, acme_did, "loyalty", "1.0", ["tier"], '{"type": "object"}')
    client.identity.create_status_list(acme, acme_did, "revocations")

    issued_at = datetime.now(UTC)
    credential = issue_credential(
        ACME, acme_did, alice_did, {"tier": "gold"}, schema, 7, issued_at, issued_at + timedelta(days=365),
        status_list_id="revocations",
    )  # fmt: skip
    checked_at = issued_at + timedelta(seconds=2)
    verified = verify_credential(client, credential, now=checked_at)
    assert (verified.issuer, verified.subject) == (acme_did, alice_did)
    assert verified.verification_method == f"{acme_did}#key-1"
    assert verified.status_checked == (f"{acme_did}/status/revocations#7",)

    client.identity.revoke(acme, acme_did, "revocations", 7)
    with pytest.raises(CredentialInvalid) as caught:
        verify_credential(client, credential, now=checked_at)
    assert caught.value.reason is VerificationFailure.REVOKED


# --- consent: request, grant, proven check, access log, withdrawal, receipt -------------------------------------


def test_consent_from_request_to_withdrawal_with_an_offline_receipt(node: NodeProcess, client: Client) -> None:
    alice = client.account(ALICE)
    alice_did = client.identity.create_did(alice, ALICE.public_key).did
    acme, acme_did = enterprise(client, node, "controller")

    requested = client.consent.request(
        acme,
        client_ref=b"crm-row-1001",
        subject=alice_did,
        subject_account=ALICE.account_id,
        controller=acme_did,
        terms=terms(),
        valid_until_ms=now_ms() + 180 * DAY_MS,
    )
    check = ("newsletter", "dpv-pd:EmailAddress")
    assert not client.consent.check(alice_did, acme_did, *check).allowed  # a request covers nothing yet
    given = client.consent.grant_request(alice, requested.record_id)
    assert given.revision == 1

    answer = client.consent.check(alice_did, acme_did, *check, verify=True)  # proofs checked, else it raises
    assert answer.allowed
    assert (answer.record_id, answer.state, answer.revision) == (requested.record_id, consent_pb2.STATE_GIVEN, 1)
    assert len(answer.state_keys) == 2  # the record and its grant index entry, both proven
    assert not client.consent.check(alice_did, acme_did, "profiling", "dpv-pd:EmailAddress").allowed

    accessor = hashlib.sha256(b"salt|crm-user-17").digest()
    seq = client.consent.log_access(
        acme, requested.record_id, purpose="newsletter", data_categories=["dpv-pd:EmailAddress"], accessor=accessor
    )
    assert [(entry.seq, entry.accessor) for entry in client.consent.all_access(alice_did)] == [(seq, accessor)]

    withdrawn = client.consent.withdraw(alice, requested.record_id)
    assert withdrawn.revision == 2
    denied = client.consent.check(alice_did, acme_did, *check, verify=True)
    assert not denied.allowed
    assert denied.reason == "no given or renewed consent covers this purpose and data category"
    with pytest.raises(ConsentNotValid) as refused:
        client.consent.log_access(
            acme, requested.record_id, purpose="newsletter", data_categories=["dpv-pd:EmailAddress"], accessor=accessor
        )
    assert refused.value.message == (
        f"record {requested.record_id.hex()} is withdrawn; personal data may be used only under a given or renewed "
        "consent"
    )

    receipt = json.dumps(client.consent.receipt(requested.record_id))
    validators = validator_keys(client.status().validators)
    proven = verify_consent_receipt(receipt, validators)  # no node needed from here on
    assert (proven.record.record_id, proven.record.state) == (requested.record_id, consent_pb2.STATE_WITHDRAWN)
    assert [revision.state for revision in proven.history] == [consent_pb2.STATE_REQUESTED, consent_pb2.STATE_GIVEN]
    assert not proven.valid_for_processing
    tampered = json.loads(receipt)
    tampered["record"]["state"] = "given"
    with pytest.raises(ReceiptInvalid, match='receipt field "record" does not match the proven record'):
        verify_consent_receipt(json.dumps(tampered), validators)
    with pytest.raises(ReceiptInvalid, match="the proof does not verify"):
        verify_consent_receipt(receipt, [BOB.public_key])  # not this chain's validator


# --- tokens: a class, points minted, transferred and redeemed --------------------------------------------------


def test_loyalty_points_are_minted_transferred_and_redeemed(node: NodeProcess, client: Client) -> None:
    acme, _acme_did = enterprise(client, node, "issuer")
    client.tokens.create_class(acme, "acme-points", "ACME Rewards", "ACME", expiry_ms=365 * DAY_MS)
    client.tokens.mint(acme, "acme-points", ALICE.account_id, 500, reference=hashlib.sha256(b"order 1001").digest())
    alice = client.account(ALICE)
    client.tokens.transfer(alice, "acme-points", BOB.account_id, 120)
    client.tokens.redeem(alice, "acme-points", 80, hashlib.sha256(b"reward: coffee mug").digest())

    alice_balance = client.tokens.balance("acme-points", ALICE.account_id)
    assert (alice_balance.balance, alice_balance.free, alice_balance.held) == (300, 300, 0)
    assert [lot.amount for lot in alice_balance.lots] == [300]
    assert client.tokens.balance("acme-points", BOB.account_id).balance == 120
    assert client.tokens.class_info("acme-points").total_supply == 420
    assert client.tokens.total_supply("acme-points") == 420  # a verified read: certificate and state proof
    assert client.tokens.holding("acme-points", BOB.account_id).balance == 120


# --- the CLI: a command of each group ----------------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """Run `dcrm ARGS --json` in process; returns the parsed output (the exit code must be 0)."""
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_the_cli_drives_each_module(
    node: NodeProcess, client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _acme, acme_did = enterprise(client, node, "controller", "issuer")
    endpoint = ("--endpoint", node.endpoint)
    keys = {name: tmp_path / f"{name}.key" for name in ("alice", "acme")}
    save_key(keys["alice"], ALICE)
    save_key(keys["acme"], ACME)
    alice_key, acme_key = ("--key", str(keys["alice"])), ("--key", str(keys["acme"]))

    created = cli(capsys, "identity", "create-did", *endpoint, *alice_key, "--salt", "01ab")
    alice_did = created["did"]
    resolved = cli(capsys, "identity", "resolve", *endpoint, alice_did)
    assert resolved["didDocument"]["verificationMethod"][0]["controller"] == alice_did

    (tmp_path / "terms.json").write_text(json.dumps(TERMS_JSON))
    (tmp_path / "notice.txt").write_bytes(NOTICE)
    granted = cli(
        capsys, "consent", "grant", *endpoint, *alice_key, "--ref", "signup-1", "--subject", alice_did,
        "--controller", acme_did, "--terms", str(tmp_path / "terms.json"),
        "--notice-file", str(tmp_path / "notice.txt"), "--valid-for", "30d",
    )  # fmt: skip
    record_id = granted["record_id"]
    assert client.consent.record(bytes.fromhex(record_id)).terms == terms()  # the JSON terms, as the SDK builds them
    answer = cli(
        capsys, "consent", "check", *endpoint, alice_did, acme_did, "newsletter", "dpv-pd:EmailAddress", "--verify"
    )
    assert (answer["allowed"], answer["record_id"], answer["verified"]) == (True, record_id, True)

    receipt_file = tmp_path / "receipt.json"
    written = cli(capsys, "consent", "receipt", *endpoint, record_id, "--out", str(receipt_file))
    assert (written["record_id"], written["state"]) == (record_id, "given")
    verified = subprocess.run(  # the installed command, offline: no --endpoint, validators from the genesis
        [DCRM, "consent", "verify-receipt", str(receipt_file), "--genesis", str(node.root / "genesis.json")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert re.search(r"^receipt +valid: proven by block [0-9]+ of chain dcrm-test$", verified.stdout, re.MULTILINE)
    assert re.search(rf"^record id +{record_id}$", verified.stdout, re.MULTILINE), verified.stdout

    cli(capsys, "consent", "withdraw", *endpoint, *alice_key, record_id)
    code = main(
        ["consent", "log-access", *endpoint, *acme_key, record_id, "--purpose", "newsletter",
         "--category", "dpv-pd:EmailAddress", "--accessor-of", "salt|crm-user-17"]
    )  # fmt: skip
    assert code == 1
    error = capsys.readouterr().err
    assert error.startswith("error: transaction "), error
    assert f"ConsentNotValid (module 2, code 24): record {record_id} is withdrawn" in error

    cli(capsys, "tokens", "create-class", *endpoint, *acme_key, "--class", "acme-points", "--name", "ACME Rewards",
        "--symbol", "ACME", "--expiry", "365d")  # fmt: skip
    minted = cli(capsys, "tokens", "mint", *endpoint, *acme_key, "--class", "acme-points", "--to",
                 ALICE.account_id.hex(), "--amount", "250", "--reference-of", "order 1001")  # fmt: skip
    assert minted["amount"] == 250
    balance = cli(capsys, "tokens", "balance", *endpoint, "--class", "acme-points", ALICE.account_id.hex())
    assert (balance["balance"], balance["free"], len(balance["lots"])) == (250, 250, 1)
