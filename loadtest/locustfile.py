"""dCRM load: customers and their enterprises' CRM desks over gRPC, weighted like a retail day.

    .venv/bin/locust -f loadtest/locustfile.py --headless -u 50 -r 10 --run-time 60s \\
        --targets 127.0.0.1:50051 --admin-key .dcrm/local/admin.key          # or simply: make loadtest

Each locust user is one customer (see loadtest/scenarios.py for the actors and the set-up). When a user
starts it onboards: it resolves its primary DID and creates it if the chain has none (first run), gives
its desk consent to the loyalty program and newsletter, and its desk mints welcome points. Then it runs the
tasks below, each one call reported to locust under the name in quotes; writes wait for their block, so
a write's response time is submit-to-commit. Failed calls count as failures with their reason (status code
of a rejection, or module error of a failed receipt).

Weights, per 1,000 calls, and why: a CRM asks the chain before every use of personal data, so checks
dominate; customers look at balances and partners resolve DIDs far more often than anything is written;
among writes, the accesses the CRM logs and the points earned at purchase are the everyday ones, while
sign-ups, grants, redemptions, withdrawals and transfers are rarer (withdrawals are about a third of grants).
Reads are 80 % and writes 20 % of calls.

| task | name | weight |
|---|---|---|
| is this use allowed? | "consent.check" | 550 |
| points balance (app, till) | "tokens.balance" | 150 |
| resolve a DID (partner verifies) | "identity.resolve" | 80 |
| account and roles lookup | "system.account" | 20 |
| CRM logs an access under consent | "consent.log_access" | 70 |
| points earned on a purchase | "tokens.mint" | 50 |
| new consent (another purpose set) | "consent.grant" | 25 |
| points redeemed for a reward | "tokens.redeem" | 20 |
| a new customer signs up (new DID) | "identity.create_did" | 15 |
| consent withdrawn | "consent.withdraw" | 10 |
| points given to another customer | "tokens.transfer" | 10 |

Options (also as environment variables): --targets (DCRM_TARGETS), --admin-key (DCRM_ADMIN_KEY), --key-seed,
--desks, --channels, --think-seconds, --tls-ca/--client-cert/--client-key (DCRM_TLS_CA, ...). See docs/loadtest.md.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import random
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.lock
from locust import events, task
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from dcrm.client import Account, Client, DcrmError, load_key
from loadtest.connect import channel_credentials, parse_targets, rotated
from loadtest.grpc_user import GrpcUser, init_gevent_once
from loadtest.scenarios import (
    CATEGORIES,
    DAY_MS,
    DESK_IN_FLIGHT,
    PURPOSES,
    Desk,
    consent_terms,
    customer_key,
    desk_for,
    now_ms,
    prepare_desks,
    primary_did,
    primary_did_salt,
)

# grpcio must run in gevent mode before any channel exists, or calls from users run one at a time. Importing
# grpc_user already did it (locust, imported first, has patched the standard library); this says so here.
init_gevent_once()

log = logging.getLogger("dcrm.loadtest")

WELCOME_POINTS = 500
QUIT_WAIT_SECONDS = 60.0
CONSENT_DAYS = 365


def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("dcrm")
    group.add_argument(
        "--targets",
        env_var="DCRM_TARGETS",
        default="127.0.0.1:50051",
        help="comma-separated node endpoints; users are spread over them, the rest are failover",
    )
    group.add_argument(
        "--admin-key",
        env_var="DCRM_ADMIN_KEY",
        default=".dcrm/local/admin.key",
        help="key file of an account with the admin role (grants the desks' roles at test start)",
    )
    group.add_argument(
        "--key-seed",
        env_var="DCRM_KEY_SEED",
        default="dcrm-loadtest",
        help="every customer and desk key derives from it: same seed, same accounts",
    )
    group.add_argument("--desks", type=int, default=2, help="enterprise desks per locust process")
    group.add_argument("--channels", type=int, default=4, help="gRPC channels per target per locust process")
    group.add_argument("--think-seconds", default="0.5,2.5", help="min,max pause between a user's calls")
    group.add_argument("--tls-ca", env_var="DCRM_TLS_CA", default=None, help="PEM roots: connect with TLS")
    group.add_argument(
        "--client-cert", env_var="DCRM_CLIENT_CERT", default=None, help="client certificate (mutual TLS)"
    )
    group.add_argument("--client-key", env_var="DCRM_CLIENT_KEY", default=None, help="client key (mutual TLS)")


@dataclass
class DeskSession:
    """One desk as this process uses it: its account (nonces tracked) and a bound on its transactions in flight."""

    desk: Desk
    account: Account
    in_flight: Any = field(default_factory=lambda: gevent.lock.BoundedSemaphore(DESK_IN_FLIGHT))


class ProcessSession:
    """What the users of one locust process share: settings, gRPC clients and desks."""

    def __init__(self, environment: Any) -> None:
        options = environment.parsed_options
        self.targets = parse_targets(options.targets)
        self.seed: str = options.key_seed
        low, _, high = options.think_seconds.partition(",")
        self.think = (float(low), float(high or low))
        credentials = channel_credentials(options.tls_ca, options.client_cert, options.client_key)
        self.clients = [
            Client(rotated(self.targets, target), credentials=credentials)
            for target in range(len(self.targets))
            for _ in range(max(1, options.channels))
        ]
        self.worker = max(0, getattr(environment.runner, "worker_index", 0))
        self.desks = []
        for index in range(max(1, options.desks)):
            desk = desk_for(self.seed, self.worker, index)
            self.desks.append(DeskSession(desk, self.clients[index % len(self.clients)].account(desk.key)))
        self.user_numbers = itertools.count()
        self.users_started = 0

    def client_for(self, user: int) -> Client:
        # Clients are ordered target by target: user i goes to target i % targets first.
        per_target = len(self.clients) // len(self.targets)
        return self.clients[(user % len(self.targets)) * per_target + (user // len(self.targets)) % per_target]

    def close(self) -> None:
        for client in self.clients:
            client.close()


@dataclass
class _ProcessState:
    session: ProcessSession | None = None
    setup_failed: bool = False


_state = _ProcessState()


def session_for(environment: Any) -> ProcessSession:
    """This process's session, made by the first user that starts."""
    if _state.session is None:
        _state.session = ProcessSession(environment)
    return _state.session


def _prepare_chain(environment: Any, **_: Any) -> None:
    """Once per test, on the master (or the only process): give every process's desks their roles, DIDs and
    classes. Workers skip it; the master finishes it before it tells them to start users."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    options = environment.parsed_options
    workers = max(1, runner.worker_count) if isinstance(runner, MasterRunner) else 1
    desks = [desk_for(options.key_seed, worker, index) for worker in range(workers) for index in range(options.desks)]
    try:
        credentials = channel_credentials(options.tls_ca, options.client_cert, options.client_key)
        with Client(parse_targets(options.targets), credentials=credentials, timeout=30) as client:
            admin = client.account(load_key(options.admin_key))
            done = prepare_desks(client, admin, desks, log=log.info)
        log.info("dcrm set-up: %d desks ready (%d changes)", len(desks), len(done))
    except (DcrmError, OSError, ValueError) as error:
        _state.setup_failed = True
        log.error("dcrm set-up failed, stopping the test: %s", error)
        environment.process_exit_code = 1
        gevent.spawn(runner.quit)


def _close_clients(**_: Any) -> None:
    if _state.session is not None:
        _state.session.close()


# locust's EventHook.add_listener carries no type annotations.
events.init_command_line_parser.add_listener(_add_options)  # type: ignore[no-untyped-call]
events.test_start.add_listener(_prepare_chain)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_close_clients)  # type: ignore[no-untyped-call]


class Customer(GrpcUser):
    """One customer and, on its behalf, its desk (see the module docstring for the tasks and weights)."""

    def wait_time(self) -> float:
        low, high = self.session.think
        return random.uniform(low, high)

    def on_start(self) -> None:
        if _state.setup_failed:
            gevent.sleep(QUIT_WAIT_SECONDS)  # the failed set-up has scheduled the quit, which ends this greenlet
            raise StopUser()
        self.session = session_for(self.environment)
        self.number = next(self.session.user_numbers)
        self.session.users_started += 1
        self.client = self.session.client_for(self.number)
        self.key = customer_key(self.session.seed, self.session.worker, self.number)
        self.account = self.client.account(self.key)
        self.desk = self.session.desks[self.number % len(self.session.desks)]
        self.desk_account = self.desk.account
        self.did = primary_did(self.key)
        self.run_tag = os.urandom(4)  # client references are unique per run, since keys repeat across runs
        self.references = itertools.count()
        self.active_records: list[bytes] = []
        self.points = 0
        self._onboard()

    def _onboard(self) -> None:
        exists = self.calls.call("identity.resolve", lambda: self.client.identity.resolve_version(self.did) is not None)
        if exists is False:
            self.calls.call(
                "identity.create_did",
                lambda: self.client.identity.create_did(
                    self.account, self.key.public_key, salt=primary_did_salt(self.key)
                ),
            )
        self.grant_consent()
        self._mint(WELCOME_POINTS)

    # -- reads ---------------------------------------------------------------------------------------------------

    @task(550)
    def check_consent(self) -> None:
        purpose, _ = random.choice(PURPOSES)  # the third purpose is never granted: a realistic share of denials
        category = random.choice(CATEGORIES)
        self.calls.call(
            "consent.check", lambda: self.client.consent.check(self.did, self.desk.desk.did, purpose, category)
        )

    @task(150)
    def read_balance(self) -> None:
        self.calls.call(
            "tokens.balance", lambda: self.client.tokens.balance(self.desk.desk.class_id, self.key.account_id)
        )

    @task(80)
    def resolve_did(self) -> None:
        self.calls.call("identity.resolve", lambda: self.client.identity.resolve(self.did))

    @task(20)
    def read_account(self) -> None:
        self.calls.call("system.account", lambda: self.client.system.account_info(self.key.account_id))

    # -- writes --------------------------------------------------------------------------------------------------

    @task(70)
    def log_access(self) -> None:
        if not self.active_records:
            self.grant_consent()
            return
        record_id = random.choice(self.active_records)
        purpose, _ = PURPOSES[0]
        accessor = hashlib.sha256(f"{self.desk.desk.did}/staff/{random.randrange(50)}".encode()).digest()
        with self.desk.in_flight:
            self.calls.call(
                "consent.log_access",
                lambda: self.client.consent.log_access(
                    self.desk_account, record_id, purpose=purpose, data_categories=[CATEGORIES[0]], accessor=accessor
                ),
            )

    @task(50)
    def earn_points(self) -> None:
        self._mint(random.randint(10, 200))

    def _mint(self, amount: int) -> None:
        order = hashlib.sha256(self.run_tag + next(self.references).to_bytes(4, "big")).digest()
        with self.desk.in_flight:
            receipt = self.calls.call(
                "tokens.mint",
                lambda: self.client.tokens.mint(
                    self.desk_account, self.desk.desk.class_id, self.key.account_id, amount, reference=order
                ),
            )
        if receipt is not None:
            self.points += amount

    @task(25)
    def grant_consent(self) -> None:
        reference = self.run_tag + next(self.references).to_bytes(4, "big")
        change = self.calls.call(
            "consent.grant",
            lambda: self.client.consent.grant(
                self.account,
                client_ref=reference,
                subject=self.did,
                controller=self.desk.desk.did,
                terms=consent_terms(),
                valid_until_ms=now_ms() + CONSENT_DAYS * DAY_MS,
            ),
        )
        if change is not None:
            self.active_records.append(change.record_id)

    @task(20)
    def redeem_points(self) -> None:
        if self.points <= 0:
            self._mint(random.randint(10, 200))
            return
        amount = min(self.points, random.randint(10, 100))
        reward = hashlib.sha256(b"loadtest/catalogue/" + str(random.randrange(20)).encode()).digest()
        receipt = self.calls.call(
            "tokens.redeem", lambda: self.client.tokens.redeem(self.account, self.desk.desk.class_id, amount, reward)
        )
        if receipt is not None:
            self.points -= amount

    @task(15)
    def onboard_customer(self) -> None:
        self.calls.call(
            "identity.create_did", lambda: self.client.identity.create_did(self.account, self.key.public_key)
        )

    @task(10)
    def withdraw_consent(self) -> None:
        if len(self.active_records) < 2:  # keep one consent for the access log; grant instead
            self.grant_consent()
            return
        record_id = self.active_records[0]
        change = self.calls.call("consent.withdraw", lambda: self.client.consent.withdraw(self.account, record_id))
        if change is not None:
            self.active_records.remove(record_id)

    @task(10)
    def transfer_points(self) -> None:
        if self.points <= 0:
            self._mint(random.randint(10, 200))
            return
        peer = random.randrange(max(2, self.session.users_started))
        if peer == self.number:
            peer = (peer + 1) % max(2, self.session.users_started)
        recipient = customer_key(self.session.seed, self.session.worker, peer).account_id
        amount = min(self.points, random.randint(1, 50))
        receipt = self.calls.call(
            "tokens.transfer",
            lambda: self.client.tokens.transfer(self.account, self.desk.desk.class_id, recipient, amount),
        )
        if receipt is not None:
            self.points -= amount
