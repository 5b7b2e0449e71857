"""Progress reporting and cancellation for long core functions.

Core functions never see a QGIS feedback object.  They accept an optional
:class:`Monitor`, built from two plain callables, so that the same code runs
from Processing (where the provider adapts ``QgsProcessingFeedback``), from a
notebook (``Monitor(progress=print)``) or from a batch job (no monitor at all).
"""

from __future__ import annotations

from typing import Callable, Optional


class OperationCancelled(RuntimeError):
    """Raised by :meth:`Monitor.check` when the caller asked to stop."""


class Monitor:
    """Progress fraction and cancel checks for a long computation.

    Parameters
    ----------
    progress:
        Called with a fraction in [0, 1] of the whole job.
    is_cancelled:
        Returns True when the caller wants the job to stop; core code then
        raises :class:`OperationCancelled` at its next check point.
    log:
        Called with an informative message (plain text).
    """

    def __init__(
        self,
        progress: Optional[Callable[[float], None]] = None,
        is_cancelled: Optional[Callable[[], bool]] = None,
        log: Optional[Callable[[str], None]] = None,
        _start: float = 0.0,
        _end: float = 1.0,
    ):
        self._progress = progress
        self._is_cancelled = is_cancelled
        self._log = log
        self._start = _start
        self._end = _end

    def update(self, fraction: float) -> None:
        """Report that ``fraction`` (0..1) of this (sub-)task is done, then check for cancel."""
        if self._progress is not None:
            fraction = min(max(float(fraction), 0.0), 1.0)
            self._progress(self._start + (self._end - self._start) * fraction)
        self.check()

    def check(self) -> None:
        """Raise :class:`OperationCancelled` if the caller asked to stop."""
        if self._is_cancelled is not None and self._is_cancelled():
            raise OperationCancelled("cancelled by the user")

    def info(self, message: str) -> None:
        """Pass an informative message to the caller's log (no-op without one)."""
        if self._log is not None:
            self._log(message)

    def sub(self, start: float, end: float) -> "Monitor":
        """A monitor for a step that covers ``start..end`` of this monitor's range."""
        span = self._end - self._start
        return Monitor(
            self._progress,
            self._is_cancelled,
            self._log,
            self._start + span * start,
            self._start + span * end,
        )


def ensure_monitor(monitor: Optional[Monitor]) -> Monitor:
    """Return ``monitor`` or a silent one, so callers need no ``None`` checks."""
    return monitor if monitor is not None else Monitor()
