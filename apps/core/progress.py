"""A terminal progress bar for management commands: redrawn in place on a terminal, and
printed as a plain line only when it changes (at most every 10 %) when the output is a file
or a pipe, so logs stay readable."""

from __future__ import annotations


class TerminalProgress:
    WIDTH = 30

    def __init__(self, stream, *, label: str = ""):
        self.stream = stream
        self.label = label
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last: tuple | None = None
        self._drawn = False

    def update(self, done: int, total: int, note: str = "") -> None:
        percent = 100 * done // total if total else 100
        if not self.tty:
            key = (percent // 10, note)
            if key == self._last:
                return
            self._last = key
            self.stream.write(f"{self.label}{done}/{total} ({percent}%){' ' + note if note else ''}\n")
            return
        filled = self.WIDTH * done // total if total else self.WIDTH
        self.stream.write(f"\r{self.label}[{'#' * filled:<{self.WIDTH}}] {percent:3d}% {done}/{total} {note}\033[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
