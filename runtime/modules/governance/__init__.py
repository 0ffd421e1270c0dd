"""The governance module (index 4): validator-set changes by a quorum of the validators, at a declared height."""

from dcrm.runtime.modules.governance.module import GovernanceModule
from dcrm.runtime.modules.governance.schedule import quorum_size, validators_at

__all__ = ["GovernanceModule", "quorum_size", "validators_at"]
