"""The tokens module (index 3): loyalty token classes, balances, allowances, holds and expiring lots."""

from dcrm.runtime.modules.tokens.invariants import InvariantViolation, check_block, check_invariants
from dcrm.runtime.modules.tokens.module import TokensModule

__all__ = ["InvariantViolation", "TokensModule", "check_block", "check_invariants"]
