"""The consent module (index 2): consent records, the check before each use of personal data, the access log."""

from dcrm.runtime.modules.consent.module import ConsentModule

__all__ = ["ConsentModule"]
