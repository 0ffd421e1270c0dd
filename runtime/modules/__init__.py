"""The native runtime modules."""

from dcrm.runtime.module import Module
from dcrm.runtime.modules.consent import ConsentModule
from dcrm.runtime.modules.governance import GovernanceModule
from dcrm.runtime.modules.identity import IdentityModule
from dcrm.runtime.modules.system import SystemModule
from dcrm.runtime.modules.tokens import TokensModule


def default_modules() -> list[Module]:
    """The modules every dcrm chain runs, in index order."""
    return [
        SystemModule(),
        IdentityModule(),
        ConsentModule(),
        TokensModule(),
        GovernanceModule(),
    ]


__all__ = ["default_modules"]
