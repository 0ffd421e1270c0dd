"""The system module (index 0): accounts, nonces, chain parameters, validators and roles."""

from dcrm.runtime.modules.system.module import SystemModule

__all__ = ["SystemModule"]
