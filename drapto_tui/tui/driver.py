"""The terminal driver: Textual's own, except that a lone Esc acts after the escape delay, not after a 100 ms poll.

A terminal sends Esc as the same byte that starts an arrow key or an Alt chord, so a program can tell a lone Esc
only by waiting a moment (ESCDELAY) for more bytes. Textual's input thread looks for that moment's end only when
its 100 ms `select` times out, so going back from the inspector took 109 ms in bare Textual whatever ESCDELAY
said (benchmarks/RESULTS.md, UI). This driver wakes when the delay is up instead; `launch` sets the delay
(`ui.escape_delay_ms`) before Textual is imported, unless the user's environment names one (ESCDELAY).
"""

from __future__ import annotations

import os
import selectors
import time
from codecs import getincrementaldecoder

from textual import constants
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

IDLE_POLL_SECONDS = 0.1
"""How often the input thread looks at its exit flag while no key is on its way (as Textual's own)."""


class PromptEscapeDriver(LinuxDriver):
    """Textual's terminal driver whose input thread, after each read, wakes once the escape delay has passed, so
    that an escape sequence left unfinished (a lone Esc) is delivered then."""

    def run_input_thread(self) -> None:
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        settle_at = 0.0  # when the parser may hold an unfinished sequence that its timeout must flush
        with selectors.SelectSelector() as selector:
            selector.register(self.fileno, selectors.EVENT_READ)
            while not self.exit_event.is_set():
                left = settle_at - time.monotonic()
                # A millisecond past the parser's own deadline, so that its tick finds the deadline passed.
                ready = selector.select(left + 0.001 if left > 0 else IDLE_POLL_SECONDS)
                if ready:
                    text = decode(os.read(self.fileno, 4096))
                    if not text:  # input closed (stdin was a pipe): nothing more will come
                        self.exit_event.wait(IDLE_POLL_SECONDS)
                    else:
                        for event in parser.feed(text):
                            self.process_message(event)
                        settle_at = time.monotonic() + constants.ESCAPE_DELAY
                for event in parser.tick():
                    self.process_message(event)
