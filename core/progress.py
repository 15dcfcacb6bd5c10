"""Typed progress: the one event every long operation emits and every consumer reads.

An operation takes ``progress`` (a callable or None) and calls it with ``Progress`` events: ``phase`` is
a stable key of the step under way (``"features"``, ``"heads"``, ``"epochs"``...), ``done`` of ``total``
its units (images, epochs, k values), ``message`` what a person reads. Consumers never parse the message:

* a bar for one operation shows ``event.fraction`` and ``event.message`` (``cli.progress_bar``, the
  pages' ``st.progress``);
* one bar across several phases maps each phase to its share of the whole (``Phases``: ``core prepare``'s
  single bar); an operation publishes its phases and their shares beside itself (``PHASES`` constants);
* a live chart reads ``event.history`` (the epochs so far, where an operation reports them).

``emit`` sends an event where there is a callback; ``relabel`` hands a sub-operation a callback whose
events arrive under the caller's phase (and a prefix to the message); ``keras_epochs`` is the Keras
callback that reports epochs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    phase: str                  # the step under way: a stable key, never reworded for people
    done: float                 # units of the step finished...
    total: float                # ...of this many (images, epochs, k values; 1 for a step without units)
    message: str = ""           # in words, for people
    history: tuple = ()         # the epochs so far ({"epoch", "loss", ...}), where the operation has them

    @property
    def fraction(self) -> float:
        """How far the step is, from 0 to 1."""
        return 1.0 if self.total <= 0 else max(0.0, min(1.0, self.done / self.total))


Callback = Callable[[Progress], None]


def emit(progress: Callback | None, phase: str, done: float, total: float, message: str = "",
         history=()) -> None:
    if progress is not None:
        progress(Progress(phase, done, total, message, tuple(history)))


def relabel(progress: Callback | None, phase: str | None = None, prefix: str = "") -> Callback | None:
    """A callback for a sub-operation: its events arrive as ``phase`` (None: their own) with ``prefix``
    before the message ("mirror images: 128 / 632 images through xception")."""
    if progress is None:
        return None

    def forward(event: Progress) -> None:
        progress(Progress(phase or event.phase, event.done, event.total,
                          f"{prefix}{event.message}" if prefix else event.message, event.history))
    return forward


def scaled(progress: Callback | None, start: float, end: float, phase: str | None = None,
           prefix: str = "") -> Callback | None:
    """A callback for part of one step: the sub-operation's fraction is mapped into ``[start, end]`` of a
    step of total 1 (one step run as several pieces, each its own 0..1, e.g. each of a method's
    descriptors)."""
    if progress is None:
        return None

    def forward(event: Progress) -> None:
        progress(Progress(phase or event.phase, start + (end - start) * event.fraction, 1.0,
                          f"{prefix}{event.message}" if prefix else event.message, event.history))
    return forward


class Phases:
    """One forward-only bar across an operation's phases: ``shares`` maps each phase to the part of the
    whole it covers, ``(start, end)``; an event of another phase leaves the bar where it is. Call it with
    events; it calls ``progress(fraction, message)``."""

    def __init__(self, shares: dict[str, tuple[float, float]], progress: Callable[[float, str], None],
                 prefix: str = ""):
        self.shares, self.progress, self.prefix, self.at = shares, progress, prefix, 0.0

    def __call__(self, event: Progress) -> None:
        if event.phase in self.shares:
            start, end = self.shares[event.phase]
            self.at = max(self.at, start + (end - start) * event.fraction)
        self.progress(self.at, self.prefix + event.message)


def keras_epochs(progress: Callback | None, epochs: int, history: list, phase: str = "epochs",
                 describe: Callable[[int, dict], str] | None = None, offset: int = 0, total: int | None = None,
                 extra: dict | None = None, keep: tuple[str, ...] | None = None, number_from: int = 0):
    """A Keras callback: after each epoch its logs (floats: those named in ``keep``, else all; per-output
    accuracies replaced by their means, ``accuracy`` and ``val_accuracy``) are appended to ``history`` as
    epoch ``number_from + epoch`` (with ``extra``), and reported as ``phase``, ``offset + epoch`` of
    ``total`` (default ``epochs``), worded by ``describe(epoch, logs)``."""
    import keras

    total = epochs if total is None else total

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raw = {k: float(v) for k, v in (logs or {}).items()}
            kept = {k: v for k, v in raw.items() if not k.endswith("_accuracy") and (keep is None or k in keep)}
            for prefix in ("", "val_"):         # the mean of the per-output (masked) accuracies
                accs = [v for k, v in raw.items() if k.endswith("_accuracy") and k.startswith("val_") == bool(prefix)]
                if accs:
                    kept[prefix + "accuracy"] = sum(accs) / len(accs)
            history.append({"epoch": number_from + epoch + 1, **(extra or {}), **kept})
            words = describe(epoch + 1, kept) if describe else (
                f"epoch {epoch + 1}/{epochs}, loss {kept.get('loss', float('nan')):.4f}")
            emit(progress, phase, offset + epoch + 1, total, words, history)

    return Report()
