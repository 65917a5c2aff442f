"""Textual's footer, recomposed only when the keys it shows change.

Textual's Footer rebuilds all its key widgets whenever its screen says its bindings were updated, which it says on
every return to the screen and every focus change, whether or not a shown key changed. With the queue's seventeen
keys that rebuild was about a third of the time between Esc in the inspector and the queue back on screen.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    _shown: tuple | None = None

    def bindings_changed(self, screen: Screen) -> None:
        shown = tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in screen.active_bindings.values()
            if binding.show
        )
        if shown == self._shown and self._bindings_ready:
            return
        if screen is self.screen and screen.app.app_focus and self.is_attached:
            self._shown = shown  # what the recompose about to run will draw
        super().bindings_changed(screen)
