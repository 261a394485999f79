"""Prometheus metrics without a dependency: a small thread-safe registry and the bot's own metrics.

``GET /metrics`` (HTTP mode, :mod:`bot.slack.http`) serves :meth:`Registry.expose`: the Prometheus
text exposition format, version 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats):
one ``# HELP`` and one ``# TYPE`` line per metric family, then its samples; counters end in
``_total``; a histogram has cumulative ``_bucket{le="..."}`` samples ending with ``le="+Inf"``
(equal to ``_count``), then ``_sum`` and ``_count``. Label values escape ``\\``, ``"`` and line
feeds; every line ends with a line feed. Served as ``text/plain; version=0.0.4; charset=utf-8``.

The bot's metrics (:class:`BotMetrics`), all in seconds where they are durations:

``ketenbot_slack_ack_seconds{kind}``
    histogram: a request's arrival at the ASGI router to its response start, by ``kind``
    (event, command, interaction, other). Slack wants this under 3 s.
``ketenbot_slack_events_total{type}``
    counter: Events API events Slack sent and the app accepted (signature verified), by event type.
``ketenbot_answer_seconds{path}``
    histogram: from a question reaching the answering step to the answer posted, by ``path``:
    ``quotes`` (quote-based answer), ``ai`` (a language model's checked text), ``fallback``
    (the model's text was not used; quotes instead).
``ketenbot_errors_total{where}``
    counter: exceptions caught and logged, by where (``answer``, ``answer_store``, ``due``,
    ``http_request``).
``ketenbot_due_runs_total{outcome}``, ``ketenbot_due_run_seconds``,
``ketenbot_due_last_success_timestamp_seconds``
    due-work runs (``ok``; ``partial``: finished, but some messages failed; ``error``: raised),
    how long they took, and the Unix time the last run finished without raising (0: none yet).
``ketenbot_llm_answers_total{outcome,reason}``, ``ketenbot_llm_answer_seconds{outcome}``
    language-model outcomes from :class:`bot.llm.writer.LlmAnswerer` (its ``observer`` is
    :func:`observe_llm`): outcome ``ai``, ``not_covered``, ``model_not_covered``, ``fallback``;
    reason ``none``, ``timeout``, ``rejected`` or ``error`` (the detail stays in the logs).
``ketenbot_process_start_time_seconds``
    gauge: when this process started (a restart resets the counters; ``rate()`` copes).

Code records through the helper functions below (:func:`observe_answer`, :func:`record_error`,
:func:`due_run`, ...). They use the process-wide default registry unless given one, and never
raise: a broken metric must not break an answer. Tests inject their own :class:`Registry`
(``asgi_app(..., registry=)``) or swap the default with :func:`set_default_registry`.

Several workers: every process keeps its own registry, nothing is shared between processes. Each
worker (each ``ketenbot run --http`` process, each pod) serves its own ``/metrics``; scrape every
worker as its own target and aggregate in queries (``sum by (kind) (rate(...[5m]))``):
Prometheus sums across targets. Do not put several workers behind one scraped address, or each
scrape sees a different worker's counters. Socket Mode serves no HTTP, so no ``/metrics`` there.
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Label sets one family keeps at most; later ones are dropped (and logged once), so a label fed
#: from outside can never grow memory without bound.
MAX_SERIES = 200

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def format_value(value: float) -> str:
    """A sample value as Go's ``ParseFloat`` reads it, with ``+Inf``, ``-Inf`` and ``NaN``."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels_text(pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs) + "}"


class _Family:
    """One metric family: a name, its help, its label names, one value per label set."""

    type_name = "untyped"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (), *,
                 initial: Iterable[Sequence[str]] = (), max_series: int = MAX_SERIES):
        if not _METRIC_NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        self.name, self.documentation = name, documentation
        self.labelnames = tuple(labelnames)
        for label in self.labelnames:
            if not _LABEL_NAME.match(label) or label.startswith("__") or label in self._reserved():
                raise ValueError(f"invalid label name {label!r} for {name}")
        if len(set(self.labelnames)) != len(self.labelnames):
            raise ValueError(f"repeated label name in {name}")
        self.max_series = max_series
        self._lock = threading.Lock()
        self._series: dict[tuple[str, ...], Any] = {}
        self._dropped = False
        if not self.labelnames:  # one series, shown (as 0) from the start
            initial = [()]
        for values in initial:
            values = tuple(str(v) for v in values)
            if len(values) != len(self.labelnames):
                raise ValueError(f"{name}: initial label values {values!r} do not match {self.labelnames}")
            with self._lock:
                self._get(values)

    def _reserved(self) -> tuple[str, ...]:
        return ()

    def sample_names(self) -> tuple[str, ...]:
        return (self.name,)

    def _new(self) -> Any:
        raise NotImplementedError

    def _key(self, labels: dict[str, Any]) -> tuple[str, ...]:
        if len(labels) != len(self.labelnames) or set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def _get(self, key: tuple[str, ...]) -> Any:
        """The series for ``key``, created when new; None when the family is full. Hold the lock."""
        series = self._series.get(key)
        if series is None:
            if len(self._series) >= self.max_series:
                if not self._dropped:
                    self._dropped = True
                    log.warning("metric %s has %d label sets; new ones are dropped", self.name,
                                self.max_series)
                return None
            series = self._series[key] = self._new()
        return series

    def _snapshot(self) -> list[tuple[tuple[str, ...], Any]]:
        raise NotImplementedError

    def samples(self) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
        """(sample name, label pairs, value) for every sample, in exposition order."""
        out = []
        for key, value in sorted(self._snapshot()):
            out.append((self.name, tuple(zip(self.labelnames, key, strict=True)), value))
        return out

    def expose(self) -> list[str]:
        lines = [
            f"# HELP {self.name} {escape_help(self.documentation)}",
            f"# TYPE {self.name} {self.type_name}",
        ]
        for name, pairs, value in self.samples():
            lines.append(f"{name}{_labels_text(pairs)} {format_value(value)}")
        return lines


class Counter(_Family):
    type_name = "counter"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (), **options: Any):
        if not name.endswith("_total"):
            raise ValueError(f"a counter's name ends in _total: {name!r}")
        super().__init__(name, documentation, labelnames, **options)

    def _new(self) -> list[float]:
        return [0.0]

    def inc(self, amount: float = 1.0, **labels: Any) -> None:
        if not amount >= 0:
            raise ValueError(f"a counter only goes up, got {amount!r}")
        key = self._key(labels)
        with self._lock:
            series = self._get(key)
            if series is not None:
                series[0] += amount

    def _snapshot(self) -> list[tuple[tuple[str, ...], float]]:
        with self._lock:
            return [(k, v[0]) for k, v in self._series.items()]


class Gauge(_Family):
    type_name = "gauge"

    def _new(self) -> list[float]:
        return [0.0]

    def set(self, value: float, **labels: Any) -> None:
        key = self._key(labels)
        with self._lock:
            series = self._get(key)
            if series is not None:
                series[0] = float(value)

    def inc(self, amount: float = 1.0, **labels: Any) -> None:
        key = self._key(labels)
        with self._lock:
            series = self._get(key)
            if series is not None:
                series[0] += amount

    def set_to_current_time(self, **labels: Any) -> None:
        self.set(time.time(), **labels)

    def _snapshot(self) -> list[tuple[tuple[str, ...], float]]:
        with self._lock:
            return [(k, v[0]) for k, v in self._series.items()]


DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram(_Family):
    type_name = "histogram"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (), *,
                 buckets: Sequence[float] = DEFAULT_BUCKETS, **options: Any):
        bounds = [float(b) for b in buckets if not math.isinf(float(b))]
        if not bounds or any(math.isnan(b) for b in bounds) or bounds != sorted(set(bounds)):
            raise ValueError(f"{name}: buckets must be distinct, increasing numbers, got {buckets!r}")
        self.bounds = (*bounds, math.inf)
        super().__init__(name, documentation, labelnames, **options)

    def _reserved(self) -> tuple[str, ...]:
        return ("le",)

    def sample_names(self) -> tuple[str, ...]:
        return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")

    def _new(self) -> list:
        return [[0] * len(self.bounds), 0.0]  # counts per bucket (not cumulative), sum

    def observe(self, value: float, **labels: Any) -> None:
        value = float(value)
        if math.isnan(value):
            return
        key = self._key(labels)
        index = bisect.bisect_left(self.bounds, value)  # the first bucket with value <= le
        with self._lock:
            series = self._get(key)
            if series is not None:
                series[0][index] += 1
                series[1] += value

    @contextmanager
    def time(self, **labels: Any) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe(time.perf_counter() - started, **labels)

    def _snapshot(self) -> list[tuple[tuple[str, ...], tuple[list[int], float]]]:
        with self._lock:  # one consistent copy: the +Inf bucket always equals _count
            return [(k, (list(v[0]), v[1])) for k, v in self._series.items()]

    def samples(self) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
        out = []
        for key, (counts, total) in sorted(self._snapshot()):
            pairs = tuple(zip(self.labelnames, key, strict=True))
            running = 0
            for bound, count in zip(self.bounds, counts, strict=True):
                running += count
                out.append((f"{self.name}_bucket", (*pairs, ("le", format_value(bound))), float(running)))
            out.append((f"{self.name}_sum", pairs, total))
            out.append((f"{self.name}_count", pairs, float(running)))
        return out


class Registry:
    """Metric families by name; ``counter``/``gauge``/``histogram`` return the existing family when
    asked again with the same shape, so modules may declare what they use. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._families: dict[str, _Family] = {}
        self._bot: BotMetrics | None = None

    def counter(
        self, name: str, documentation: str, labelnames: Iterable[str] = (), **options: Any
    ) -> Counter:
        return self._register(Counter, name, documentation, labelnames, options)

    def gauge(self, name: str, documentation: str, labelnames: Iterable[str] = (), **options: Any) -> Gauge:
        return self._register(Gauge, name, documentation, labelnames, options)

    def histogram(
        self, name: str, documentation: str, labelnames: Iterable[str] = (), **options: Any
    ) -> Histogram:
        return self._register(Histogram, name, documentation, labelnames, options)

    def _register(self, cls: type, name: str, documentation: str, labelnames: Iterable[str], options: dict):
        with self._lock:
            existing = self._families.get(name)
            if existing is not None:
                same = type(existing) is cls and existing.labelnames == tuple(labelnames)
                if same and cls is Histogram and "buckets" in options:
                    wanted = tuple(float(b) for b in options["buckets"] if b != math.inf)
                    same = existing.bounds[:-1] == wanted
                if not same:
                    raise ValueError(f"metric {name} is already registered with another shape")
                return existing
            family = cls(name, documentation, labelnames, **options)
            taken = {s for f in self._families.values() for s in f.sample_names()}
            if taken & set(family.sample_names()):
                raise ValueError(f"metric {name} clashes with the samples of another metric")
            self._families[name] = family
            return family

    def families(self) -> list[_Family]:
        with self._lock:
            return sorted(self._families.values(), key=lambda f: f.name)

    def expose(self) -> str:
        """Every family in the text exposition format 0.0.4, ending in a line feed."""
        lines: list[str] = []
        for family in self.families():
            lines.extend(family.expose())
        return "\n".join(lines) + "\n"

    def value(self, sample: str, **labels: Any) -> float | None:
        """One sample's value (``ketenbot_errors_total``, ``..._count``, ``..._bucket`` with ``le``),
        or None when there is none; for tests and checks."""
        wanted = {k: str(v) for k, v in labels.items()}
        for family in self.families():
            if sample not in family.sample_names():
                continue
            for name, pairs, value in family.samples():
                if name == sample and dict(pairs) == wanted:
                    return value
        return None


# ----------------------------------------------------------------------------- the bot's metrics

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
ANSWER_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0)
DUE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
KINDS = ("event", "command", "interaction", "other")
PATHS = ("quotes", "ai", "fallback")
DUE_OUTCOMES = ("ok", "partial", "error")
LLM_OUTCOMES = ("ai", "not_covered", "model_not_covered", "fallback")
LLM_REASONS = ("none", "timeout", "rejected", "error")


class BotMetrics:
    """The families the bot records, declared on one registry (see the module docstring)."""

    def __init__(self, registry: Registry):
        r = registry
        self.slack_ack = r.histogram(
            "ketenbot_slack_ack_seconds",
            "Time from a Slack request's arrival at the HTTP router to its response start, by kind.",
            ("kind",), buckets=ACK_BUCKETS, initial=[(k,) for k in KINDS],
        )
        self.slack_events = r.counter(
            "ketenbot_slack_events_total", "Events API events received and accepted, by event type.",
            ("type",),
        )
        self.answers = r.histogram(
            "ketenbot_answer_seconds",
            "Time from a question reaching the answering step to its answer posted, by answer path.",
            ("path",), buckets=ANSWER_BUCKETS, initial=[(p,) for p in PATHS],
        )
        self.errors = r.counter(
            "ketenbot_errors_total", "Exceptions caught and logged, by where.", ("where",)
        )
        self.due_runs = r.counter(
            "ketenbot_due_runs_total", "Due-work runs, by outcome (ok, partial, error).", ("outcome",),
            initial=[(o,) for o in DUE_OUTCOMES],
        )
        self.due_seconds = r.histogram("ketenbot_due_run_seconds", "Duration of due-work runs.",
                                       buckets=DUE_BUCKETS)
        self.due_last_success = r.gauge(
            "ketenbot_due_last_success_timestamp_seconds",
            "Unix time the last due-work run finished without an exception (0: none yet).",
        )
        self.llm_answers = r.counter(
            "ketenbot_llm_answers_total", "Language-model answering outcomes, by outcome and reason.",
            ("outcome", "reason"),
        )
        self.llm_seconds = r.histogram(
            "ketenbot_llm_answer_seconds", "Time the language-model answering step took, by outcome.",
            ("outcome",), buckets=ANSWER_BUCKETS,
        )
        self.start_time = r.gauge("ketenbot_process_start_time_seconds", "Unix time this process started.")


_PROCESS_START = time.time()
_default = Registry()
_bot_lock = threading.Lock()


def default_registry() -> Registry:
    return _default


def set_default_registry(registry: Registry) -> Registry:
    """Make ``registry`` the process-wide default; returns the previous one (tests restore it)."""
    global _default
    previous, _default = _default, registry
    return previous


def bot_metrics(registry: Registry | None = None) -> BotMetrics:
    registry = registry or _default
    with _bot_lock:
        if registry._bot is None:
            registry._bot = BotMetrics(registry)
            registry._bot.start_time.set(_PROCESS_START)
        return registry._bot


def _never_raise(fn: Callable) -> Callable:
    warned = []

    @functools.wraps(fn)
    def safe(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:  # metrics are a side show: never let them break the work
            if not warned:
                warned.append(True)
                log.warning("metric %s not recorded", fn.__name__, exc_info=True)

    return safe


_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")


@_never_raise
def observe_ack(kind: str, seconds: float, registry: Registry | None = None) -> None:
    bot_metrics(registry).slack_ack.observe(seconds, kind=kind if kind in KINDS else "other")


@_never_raise
def count_event(event_type: str, registry: Registry | None = None) -> None:
    shown = event_type if isinstance(event_type, str) and _EVENT_TYPE.match(event_type) else "other"
    bot_metrics(registry).slack_events.inc(type=shown)


@_never_raise
def record_error(where: str, registry: Registry | None = None) -> None:
    bot_metrics(registry).errors.inc(where=where)


def answer_path(answer: Any) -> str:
    """``ai`` for a language model's text, ``fallback`` when the model's text was not used,
    else ``quotes``."""
    from bot.answering.phrases import phrase

    if getattr(answer, "ai_text", ""):
        return "ai"
    framing = getattr(answer, "framing", "") or ""
    if any(framing.startswith(phrase("ai_fallback", language)) for language in ("nl", "en")):
        return "fallback"
    return "quotes"


@_never_raise
def observe_answer(answer: Any, seconds: float, registry: Registry | None = None) -> None:
    bot_metrics(registry).answers.observe(seconds, path=answer_path(answer))


@_never_raise
def observe_llm(event: dict, registry: Registry | None = None) -> None:
    """The ``observer`` of :class:`bot.llm.writer.LlmAnswerer`: ``{"outcome", "reason",
    "total_s", "model_s"}`` for every question the model was considered for."""
    outcome = str(event.get("outcome") or "")
    outcome = outcome if outcome in LLM_OUTCOMES else "other"
    reason = str(event.get("reason") or "none").split(":", 1)[0]
    reason = reason if reason in LLM_REASONS else "other"
    metrics = bot_metrics(registry)
    metrics.llm_answers.inc(outcome=outcome, reason=reason)
    total = event.get("total_s")
    if isinstance(total, int | float):
        metrics.llm_seconds.observe(total, outcome=outcome)


def llm_observer(registry: Registry | None = None) -> Callable[[dict], None]:
    """:func:`observe_llm` bound to ``registry``."""
    return functools.partial(observe_llm, registry=registry)


class DueRun:
    """What :func:`due_run` yields: pass the run's report through :meth:`done`."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.report: Any = None

    def done(self, report: Any) -> Any:
        self.report = report
        return report


@_never_raise
def _due_finished(run: DueRun, raised: bool, registry: Registry | None) -> None:
    metrics = bot_metrics(registry)
    metrics.due_seconds.observe(time.monotonic() - run.started)
    if raised:
        metrics.due_runs.inc(outcome="error")
        return
    metrics.due_runs.inc(outcome="partial" if getattr(run.report, "failed", 0) else "ok")
    metrics.due_last_success.set_to_current_time()


@contextmanager
def due_run(registry: Registry | None = None) -> Iterator[DueRun]:
    """Time one due-work run and count its outcome; exceptions pass through unchanged."""
    run = DueRun()
    try:
        yield run
    except BaseException:
        _due_finished(run, True, registry)
        raise
    _due_finished(run, False, registry)
