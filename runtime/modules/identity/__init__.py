"""The identity module (index 1): did:dcrm DIDs with history, credential issuers, schemas and status lists."""

from dcrm.runtime.modules.identity.module import IdentityModule

__all__ = ["IdentityModule"]
