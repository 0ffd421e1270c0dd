"""Run by test_locust.py in its own process (locust patches the standard library for gevent on import):
makes a successful call, a call rejected at admission and a call whose committed transaction fails through
the locustfile's call wrapper, and prints the request events it fired as JSON lines.

    python -m tests.loadtest.fire_request_events ENDPOINT ADMIN_KEY_FILE
"""

from __future__ import annotations

import json
import sys
from typing import Any

from locust.event import Events  # importing locust patches the standard library for gevent

from dcrm.client import Client, load_key
from dcrm.client.system import CONTROLLER
from loadtest.grpc_user import GrpcCalls
from loadtest.signing import derived_key


def main(endpoint: str, admin_key_file: str) -> None:
    events = Events()  # type: ignore[no-untyped-call]  # locust does not annotate Events
    fired: list[dict[str, Any]] = []

    def record(**event: Any) -> None:
        exception = event["exception"]
        fired.append(
            {
                "request_type": event["request_type"],
                "name": event["name"],
                "response_time": event["response_time"],
                "failure": None if exception is None else repr(exception),
            }
        )

    events.request.add_listener(record)  # type: ignore[no-untyped-call]
    calls = GrpcCalls(events)
    with Client(endpoint) as client:
        admin = client.account(load_key(admin_key_file))
        stranger = client.account(derived_key("fire-request-events", "stranger"))
        enterprise = derived_key("fire-request-events", "enterprise").account_id
        calls.call("system.account", lambda: client.system.account_info(admin.account_id))
        # Rejected at admission: only an admin may grant roles.
        calls.call("system.grant_role", lambda: client.system.grant_role(stranger, enterprise, CONTROLLER))
        # Committed, then failed: the second grant of the same role is RoleAlreadyGranted.
        calls.call("system.grant_role", lambda: client.system.grant_role(admin, enterprise, CONTROLLER))
        calls.call("system.grant_role", lambda: client.system.grant_role(admin, enterprise, CONTROLLER))
    for event in fired:
        print(json.dumps(event))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
