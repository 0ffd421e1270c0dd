"""A local multi-validator chain of real `dcrm node start` processes, made with `dcrm node init`."""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass
from pathlib import Path

from dcrm.client.keys import load_key
from dcrm.node.cli.node_cmd import init_chain
from dcrm.runtime import Genesis
from tests.support.node_process import NodeProcess


def free_port_range(count: int, attempts: int = 200) -> int:
    """A base port such that base .. base + count - 1 are free on 127.0.0.1 right now."""
    chooser = random.Random()  # spreads test ports; not for security
    for _ in range(attempts):
        base = chooser.randrange(20_000, 60_000 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
        return base
    raise RuntimeError(f"no {count} consecutive free ports found")


@dataclass
class LocalNetwork:
    root: Path
    nodes: list[NodeProcess]
    genesis: Genesis

    def start(self) -> None:
        """Launch every node at once (each waits for its peers), then wait until all serve."""
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_ready()

    def kill_all(self) -> None:
        for node in self.nodes:
            node.kill()


def local_network(root: Path, validators: int = 4) -> LocalNetwork:
    """`validators` nodes initialised like `dcrm node init`, on free loopback ports; not started."""
    base = free_port_range(2 * validators)
    layout = init_chain(root, chain_id="dcrm-local", validators=validators, base_port=base, force=False)
    genesis = Genesis.from_bytes(layout.genesis.read_bytes())
    admin = load_key(layout.admin_key)
    nodes = [
        NodeProcess(config.parent, genesis, load_key(config.parent / "validator.key"), admin)
        for config in layout.configs
    ]
    return LocalNetwork(root, nodes, genesis)
