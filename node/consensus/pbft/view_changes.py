"""The view changes of one height that a node keeps: those for its current view and above."""

from __future__ import annotations

from dcrm.v1 import consensus_pb2

__all__ = ["ViewChangePool"]

# A faulty validator could sign view changes for endless views; only its highest few are kept.
_VIEWS_PER_SIGNER = 4


class ViewChangePool:
    def __init__(self) -> None:
        self._by_view: dict[int, dict[bytes, consensus_pb2.ViewChange]] = {}
        self._views_of: dict[bytes, list[int]] = {}

    def add(self, signer: bytes, new_view: int, message: consensus_pb2.ViewChange) -> bool:
        """Keeps the first view change of each signer for each view; False for a repeat or one too old."""
        views = self._views_of.setdefault(signer, [])
        if new_view in views or (len(views) >= _VIEWS_PER_SIGNER and new_view < views[0]):
            return False
        if len(views) >= _VIEWS_PER_SIGNER:
            del self._by_view[views.pop(0)][signer]
        self._by_view.setdefault(new_view, {})[signer] = message
        views.append(new_view)
        views.sort()
        return True

    def for_view(self, view: int) -> dict[bytes, consensus_pb2.ViewChange]:
        """Signer -> view change into `view`, in arrival order."""
        return self._by_view.get(view, {})

    def discard_below(self, view: int) -> None:
        for old in [old for old in self._by_view if old < view]:
            for signer in self._by_view.pop(old):
                self._views_of[signer].remove(old)

    def view_supported_by(self, signers: int, above: int) -> int | None:
        """The highest view w > `above` such that `signers` distinct validators asked for w or a later view."""
        highest = sorted((views[-1] for views in self._views_of.values() if views and views[-1] > above), reverse=True)
        if len(highest) < signers:
            return None
        return highest[signers - 1]
