"""dcrm runtime: the deterministic state machine (executive + modules)."""

from dcrm.runtime.executive import (
    STATE_PREFIX,
    TREE_PREFIX,
    BlockBuilder,
    BlockInvalid,
    BlockResult,
    GenesisResult,
    QueryError,
    Runtime,
)
from dcrm.runtime.genesis import Genesis, GenesisError
from dcrm.runtime.module import BlockContext
from dcrm.runtime.transaction import SignedTransaction

__all__ = [
    "STATE_PREFIX",
    "TREE_PREFIX",
    "BlockBuilder",
    "BlockContext",
    "BlockInvalid",
    "BlockResult",
    "Genesis",
    "GenesisError",
    "GenesisResult",
    "QueryError",
    "Runtime",
    "SignedTransaction",
]
