"""Small modal dialogs: yes/no confirmation and the quit choice."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

T = TypeVar("T")


class Dialog(ModalScreen[T]):
    """A box in the middle of the screen whose text wraps to its width (nothing is cut at 80x24)."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog #dialog { width: 64; max-width: 95%; height: auto; max-height: 95%; border: thick $primary;
                     background: $surface; padding: 0 2; }
    Dialog #dialog Label { width: 100%; margin-bottom: 1; }
    Dialog #dialog Button { width: 100%; height: 1; border: none; margin-top: 0; }
    """


class Confirm(Dialog[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question)
            yield Button("Yes (y)", id="yes", variant="error")
            yield Button("No (n / Esc)", id="no")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class QuitChoice(Dialog[str]):
    """While work runs: detach (a service client: encoding goes on), finish then quit, stop now (resume later),
    cancel the running jobs, or stay."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "choose('detach')", "Detach"),
        Binding("f", "choose('finish')", "Finish"),
        Binding("s", "choose('stop')", "Stop"),
        Binding("c", "choose('cancel')", "Cancel jobs"),
        Binding("escape,n", "choose('')", "Back"),
    ]

    def __init__(self, *, detach: bool = False) -> None:
        super().__init__()
        self.detach = detach

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Encodes are running. Quit how?")
            if self.detach:
                yield Button("d  Detach: the encodes go on", id="detach", variant="primary")
            yield Button("f  Finish the running jobs, then stop", id="finish")
            yield Button(
                "s  Stop now; resume them next time",
                id="stop",
                variant="default" if self.detach else "primary",
            )
            yield Button("c  Cancel the running jobs and stop", id="cancel", variant="error")
            yield Button("Esc  Back", id="back")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.detach or parameters != ("detach",)

    def action_choose(self, value: str) -> None:
        self.dismiss(value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss("" if event.button.id == "back" else str(event.button.id))
