"""The metrics registry: valid Prometheus text format 0.0.4 (checked by a strict parser written
here, as prometheus_client is not a dependency), thread safety, and the bot's own recordings."""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.answering.model import Answer
from bot.answering.phrases import phrase
from bot.checkins import runner as runner_module
from bot.checkins.due import DueReport
from bot.checkins.runner import DueRunner
from bot.ops import metrics
from bot.ops.metrics import Registry

# ----------------------------------------------------------------------------- a strict parser

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_LABEL_VALUE = r'"((?:[^"\\\n]|\\[\\"n])*)"'
_FLOAT = r"(?:[+-]?Inf|NaN|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_SAMPLE = re.compile(rf"^({_NAME})(\{{(.*)\}})? ({_FLOAT})(?: (-?\d+))?$")
_PAIR = re.compile(rf"({_LABEL_NAME})={_LABEL_VALUE}(,|$)")
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], value)


def _float(text: str) -> float:
    return {"+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}.get(text) or float(text)


def _labels(text: str) -> tuple[tuple[str, str], ...]:
    pairs, at = [], 0
    while at < len(text):
        m = _PAIR.match(text, at)
        assert m, f"bad label set {text!r}"
        pairs.append((m.group(1), _unescape(m.group(2))))
        at = m.end()
    names = [n for n, _ in pairs]
    assert len(names) == len(set(names)), f"repeated label in {text!r}"
    assert not any(n.startswith("__") for n in names)
    return tuple(pairs)


def parse_exposition(text: str) -> dict[str, dict]:
    """Families by name: {"type", "help", "samples": {(sample name, labels): value}}. Fails on
    anything the text format 0.0.4 does not allow, and on our own rules (counters end in _total,
    histograms complete and cumulative)."""
    assert text.endswith("\n"), "the last line must end with a line feed"
    families: dict[str, dict] = {}
    finished: set[str] = set()  # families whose samples are over: they may not come back
    current = None

    def family_of(sample: str) -> str:
        for suffix in ("_bucket", "_sum", "_count"):
            base = sample[: -len(suffix)]
            if sample.endswith(suffix) and families.get(base, {}).get("type") == "histogram":
                return base
        return sample

    for line in text[:-1].split("\n"):
        assert line == line.strip() and "\r" not in line, f"stray whitespace in {line!r}"
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                assert re.fullmatch(_NAME, name), line
                fam = families.setdefault(name, {"type": None, "help": None, "samples": {}})
                assert name not in finished and not fam["samples"], f"metadata after samples: {line}"
                if parts[1] == "HELP":
                    assert fam["help"] is None, f"second HELP for {name}"
                    doc = parts[3] if len(parts) > 3 else ""
                    assert not re.search(r"\\[^\\n]", doc.replace("\\\\", "")), f"bad escape in {line!r}"
                    fam["help"] = doc
                else:
                    assert fam["type"] is None, f"second TYPE for {name}"
                    assert len(parts) == 4 and parts[3] in _TYPES, line
                    fam["type"] = parts[3]
                if current is not None and current != name:
                    finished.add(current)
                current = name
            continue
        assert line, "no empty lines expected in our output"
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.group(1), _labels(m.group(3) or ""), _float(m.group(4))
        fam_name = family_of(name)
        assert fam_name not in finished, f"samples of {fam_name} are not grouped"
        if current is not None and current != fam_name:
            finished.add(current)
        current = fam_name
        fam = families.setdefault(fam_name, {"type": "untyped", "help": None, "samples": {}})
        assert (name, labels) not in fam["samples"], f"duplicate sample {line!r}"
        fam["samples"][(name, labels)] = value

    for name, fam in families.items():
        assert fam["type"] is not None, f"{name} has HELP but no TYPE"
        if fam["type"] == "counter":
            assert name.endswith("_total"), name
            assert all(v >= 0 for v in fam["samples"].values()), name
        if fam["type"] == "histogram":
            _check_histogram(name, fam["samples"])
    return families


def _check_histogram(name: str, samples: dict) -> None:
    series: dict[tuple, dict] = {}
    for (sample, labels), value in samples.items():
        rest = tuple(p for p in labels if p[0] != "le")
        entry = series.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if sample == f"{name}_bucket":
            le = dict(labels)["le"]
            entry["buckets"].append((_float(le), value))
        elif sample == f"{name}_sum":
            assert "le" not in dict(labels)
            entry["sum"] = value
        else:
            assert sample == f"{name}_count" and "le" not in dict(labels), sample
            entry["count"] = value
    for rest, entry in series.items():
        bounds = [b for b, _ in entry["buckets"]]
        counts = [c for _, c in entry["buckets"]]
        assert bounds and bounds[-1] == math.inf, f"{name}{rest}: no +Inf bucket"
        assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), f"{name}{rest}: le order"
        assert counts == sorted(counts), f"{name}{rest}: buckets are not cumulative"
        assert entry["sum"] is not None and entry["count"] is not None, f"{name}{rest}: _sum/_count"
        assert entry["count"] == counts[-1], f"{name}{rest}: _count differs from the +Inf bucket"


def sample(families: dict, name: str, **labels: str) -> float | None:
    for fam in families.values():
        for (sample_name, pairs), value in fam["samples"].items():
            if sample_name == name and dict(pairs) == labels:
                return value
    return None


# ----------------------------------------------------------------------------- the registry


def test_the_exposition_is_valid_text_format_with_every_type_and_escaping():
    r = Registry()
    doc = 'Requests, with "quotes", a back\\slash\nand a line feed.'
    c = r.counter("demo_requests_total", doc, ("path",))
    c.inc(path='a "quoted" \\ value\nwith a line feed')
    c.inc(2.5, path="/plain")
    g = r.gauge("demo_temperature_celsius", "A gauge.")
    g.set(-3.25)
    h = r.histogram("demo_latency_seconds", "A histogram.", ("kind",), buckets=(0.1, 1, 10))
    for v in (0.05, 0.1, 0.5, 2, 20, 100):
        h.observe(v, kind="x")
    text = r.expose()
    fams = parse_exposition(text)

    assert fams["demo_requests_total"]["type"] == "counter"
    assert fams["demo_requests_total"]["help"] == r'Requests, with "quotes", a back\\slash\nand a line feed.'
    assert sample(fams, "demo_requests_total", path='a "quoted" \\ value\nwith a line feed') == 1.0
    assert sample(fams, "demo_requests_total", path="/plain") == 2.5
    assert sample(fams, "demo_temperature_celsius") == -3.25
    # le is inclusive: 0.1 falls in the 0.1 bucket; counts are cumulative up to +Inf
    les = ("0.1", "1.0", "10.0", "+Inf")
    buckets = [sample(fams, "demo_latency_seconds_bucket", kind="x", le=le) for le in les]
    assert buckets == [2.0, 3.0, 4.0, 6.0]
    assert sample(fams, "demo_latency_seconds_count", kind="x") == 6.0
    assert sample(fams, "demo_latency_seconds_sum", kind="x") == pytest.approx(122.65)
    assert "# TYPE demo_latency_seconds histogram\n" in text
    assert text.index("# HELP demo_latency_seconds ") < text.index("demo_latency_seconds_bucket")
    assert r.value("demo_latency_seconds_bucket", kind="x", le="+Inf") == 6.0


def test_the_parser_rejects_what_the_format_forbids():
    good = "# HELP a_total A.\n# TYPE a_total counter\na_total 1.0\n"
    parse_exposition(good)
    for bad in (
        good[:-1],  # no final line feed
        good + "# TYPE a_total counter\n",  # second TYPE
        "a_total{x=\"1\"} 1\nb 2\na_total{x=\"2\"} 1\n",  # family not grouped
        '# TYPE h histogram\nh_bucket{le="1.0"} 2.0\nh_bucket{le="+Inf"} 1.0\nh_sum 1.0\nh_count 1.0\n',
        '# TYPE h histogram\nh_bucket{le="1.0"} 1.0\nh_sum 1.0\nh_count 1.0\n',  # no +Inf
        'a{x="unescaped"quote"} 1\n',
        "a 1,5\n",
        "# TYPE a counter\na 1\n",  # counter without _total
    ):
        with pytest.raises(AssertionError):
            parse_exposition(bad)


def test_values_are_written_as_go_parses_them():
    assert metrics.format_value(math.inf) == "+Inf"
    assert metrics.format_value(-math.inf) == "-Inf"
    assert metrics.format_value(math.nan) == "NaN"
    assert metrics.format_value(3) == "3.0"
    assert metrics.format_value(1e-7) == "1e-07"


def test_the_registry_checks_names_labels_and_shapes():
    r = Registry()
    with pytest.raises(ValueError):
        r.counter("no_suffix", "A counter must end in _total.")
    with pytest.raises(ValueError):
        r.counter("bad-name_total", "Not a metric name.")
    with pytest.raises(ValueError):
        r.histogram("h_seconds", "le is the histogram's own label.", ("le",))
    c = r.counter("x_total", "X.", ("a",))
    assert r.counter("x_total", "X.", ("a",)) is c  # declared again: the same family
    with pytest.raises(ValueError):
        r.counter("x_total", "X.", ("b",))
    with pytest.raises(ValueError):
        r.gauge("x_total", "X as a gauge.")
    r.histogram("y", "Y.")
    with pytest.raises(ValueError):
        r.gauge("y_count", "Clashes with the histogram's _count sample.")
    with pytest.raises(ValueError):
        c.inc(-1, a="1")
    with pytest.raises(ValueError):
        c.inc(b="1")


def test_a_family_keeps_a_bounded_number_of_label_sets():
    r = Registry()
    c = r.counter("many_total", "Many.", ("v",), max_series=3)
    for n in range(10):
        c.inc(v=str(n))
    assert len(parse_exposition(r.expose())["many_total"]["samples"]) == 3


def test_concurrent_updates_are_all_counted_and_every_scrape_is_consistent():
    r = Registry()
    c = r.counter("hits_total", "Hits.", ("t",))
    h = r.histogram("work_seconds", "Work.", ("t",), buckets=(0.5,))
    stop = threading.Event()
    problems: list[str] = []

    def scrape() -> None:
        while not stop.is_set():
            try:
                parse_exposition(r.expose())  # +Inf == _count checked on every snapshot
            except AssertionError as exc:
                problems.append(str(exc))

    def work(n: int) -> None:
        for i in range(5000):
            c.inc(t=str(n % 2))
            h.observe(i % 2, t=str(n % 2))

    scraper = threading.Thread(target=scrape)
    scraper.start()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    scraper.join()
    assert not problems
    fams = parse_exposition(r.expose())
    assert sample(fams, "hits_total", t="0") + sample(fams, "hits_total", t="1") == 40_000
    assert sample(fams, "work_seconds_count", t="1") == 20_000
    assert sample(fams, "work_seconds_bucket", t="1", le="0.5") == 10_000


def test_the_bot_metrics_are_declared_at_once_with_their_known_labels():
    r = Registry()
    metrics.bot_metrics(r)
    fams = parse_exposition(r.expose())
    for name, kind in {
        "ketenbot_slack_ack_seconds": "histogram",
        "ketenbot_slack_events_total": "counter",
        "ketenbot_answer_seconds": "histogram",
        "ketenbot_errors_total": "counter",
        "ketenbot_due_runs_total": "counter",
        "ketenbot_due_run_seconds": "histogram",
        "ketenbot_due_last_success_timestamp_seconds": "gauge",
        "ketenbot_llm_answers_total": "counter",
        "ketenbot_llm_answer_seconds": "histogram",
        "ketenbot_process_start_time_seconds": "gauge",
    }.items():
        assert fams[name]["type"] == kind, name
    for kind in metrics.KINDS:
        assert sample(fams, "ketenbot_slack_ack_seconds_count", kind=kind) == 0.0
    for path in metrics.PATHS:
        assert sample(fams, "ketenbot_answer_seconds_count", path=path) == 0.0
    assert 0 < sample(fams, "ketenbot_process_start_time_seconds") <= time.time()


def test_recording_helpers_never_raise_and_keep_labels_bounded():
    r = Registry()
    metrics.count_event("app_mention", r)
    metrics.count_event("Not A Type!{}", r)  # from outside: folded into "other"
    metrics.observe_ack("weird", 0.1, r)
    metrics.observe_ack("event", "not a number", r)  # swallowed, logged once
    fams = parse_exposition(r.expose())
    assert sample(fams, "ketenbot_slack_events_total", type="app_mention") == 1
    assert sample(fams, "ketenbot_slack_events_total", type="other") == 1
    assert sample(fams, "ketenbot_slack_ack_seconds_count", kind="other") == 1
    assert sample(fams, "ketenbot_slack_ack_seconds_count", kind="event") == 0


def _answer(**kw) -> Answer:
    return replace(Answer("vraag", "nl", True, phrase("answered", "nl"), []), **kw)


def test_the_answer_path_is_ai_fallback_or_quotes():
    assert metrics.answer_path(_answer()) == "quotes"
    assert metrics.answer_path(_answer(ai_text="Een antwoord [1].", ai_model="m")) == "ai"
    for language in ("nl", "en"):
        framing = phrase("ai_fallback", language) + " " + phrase("answered", language)
        assert metrics.answer_path(_answer(framing=framing)) == "fallback"


def test_the_llm_observer_counts_outcomes_with_coarse_reasons():
    r = Registry()
    observe = metrics.llm_observer(r)
    observe({"outcome": "ai", "reason": "", "total_s": 2.0, "model_s": 1.5})
    observe({"outcome": "fallback", "reason": "rejected:unsupported", "total_s": 3.0, "model_s": 2.0})
    observe({"outcome": "fallback", "reason": "error:ConnectError", "total_s": 0.1, "model_s": 0.1})
    observe({"outcome": "fallback", "reason": "timeout", "total_s": 20.0, "model_s": 20.0})
    fams = parse_exposition(r.expose())
    assert sample(fams, "ketenbot_llm_answers_total", outcome="ai", reason="none") == 1
    assert sample(fams, "ketenbot_llm_answers_total", outcome="fallback", reason="rejected") == 1
    assert sample(fams, "ketenbot_llm_answers_total", outcome="fallback", reason="error") == 1
    assert sample(fams, "ketenbot_llm_answers_total", outcome="fallback", reason="timeout") == 1
    assert sample(fams, "ketenbot_llm_answer_seconds_count", outcome="fallback") == 3


def test_make_answerer_wires_the_observer(tmp_path):
    from types import SimpleNamespace

    from bot.core import make_answerer
    from tests.conftest import make_settings
    from tests.fakes.chat_model import ScriptedChatModel

    settings = make_settings(tmp_path, LLM_PROVIDER="openai", LLM_MODEL="m", LLM_API_KEY="k")
    answerer = make_answerer(settings, SimpleNamespace(search=None), model=ScriptedChatModel())
    assert answerer.observer is metrics.observe_llm


# ----------------------------------------------------------------------------- due work


@pytest.fixture
def registry():
    fresh = Registry()
    previous = metrics.set_default_registry(fresh)
    metrics.bot_metrics(fresh)
    yield fresh
    metrics.set_default_registry(previous)


def _runner() -> DueRunner:
    return DueRunner(None, None, zone=ZoneInfo("Europe/Amsterdam"), min_group=5)


def test_due_runs_are_timed_and_counted_by_outcome(registry, monkeypatch):
    reports = iter([DueReport(opened=1), DueReport(failed=2), RuntimeError("database down")])

    def fake_run_due(*_args, **_kw):
        item = next(reports)
        if isinstance(item, Exception):
            raise item
        time.sleep(0.01)
        return item

    monkeypatch.setattr(runner_module, "run_due", fake_run_due)
    runner = _runner()
    before = time.time()
    assert runner.run(datetime.now(UTC)).opened == 1  # the report still comes back
    assert runner.run(datetime.now(UTC)).failed == 2
    last_success = registry.value("ketenbot_due_last_success_timestamp_seconds")
    runner._safe_run()  # raises inside; the loop logs it and carries on
    fams = parse_exposition(registry.expose())
    assert sample(fams, "ketenbot_due_runs_total", outcome="ok") == 1
    assert sample(fams, "ketenbot_due_runs_total", outcome="partial") == 1
    assert sample(fams, "ketenbot_due_runs_total", outcome="error") == 1
    assert sample(fams, "ketenbot_due_run_seconds_count") == 3
    assert sample(fams, "ketenbot_due_run_seconds_sum") >= 0.02
    assert sample(fams, "ketenbot_errors_total", where="due") == 1
    # the failed run does not move the last success
    assert last_success == sample(fams, "ketenbot_due_last_success_timestamp_seconds")
    assert before <= last_success <= time.time()


def test_a_run_skipped_because_one_is_going_is_not_counted(registry, monkeypatch):
    monkeypatch.setattr(runner_module, "run_due", lambda *a, **k: DueReport())
    runner = _runner()
    runner._lock.acquire()
    try:
        assert runner.run() is None
    finally:
        runner._lock.release()
    assert registry.value("ketenbot_due_run_seconds_count") == 0
