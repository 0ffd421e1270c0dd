"""The validators' network: the `Transport` seam, its in-memory twin and the libp2p implementation.

Import `dcrm.node.network.libp2p_transport` only where the real network is wanted: it loads trio and libp2p
(~0.5 s, 85 MiB).
"""
