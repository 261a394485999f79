"""Language-model answers against a local stub: what the LLM path costs, and grounding under faults.

    .venv/bin/python bench/llm_answers.py
    .venv/bin/python bench/llm_answers.py --questions 40 --fail-share 0.3 --slow-share 0.2
    .venv/bin/python bench/llm_answers.py --provider anthropic --json

The index is built in a temporary DATA_DIR from knowledge/. ``FakeLLMServer``
(tests/fakes/llm_server.py) serves the OpenAI Chat Completions API (or Anthropic Messages with
``--provider anthropic``) on 127.0.0.1 and answers at once like a well-behaved model: Dutch search
queries for the rewrite; for the answer, ``--sentences`` sentences each quoting the first sentence
of passage 1, 2, 3 word for word with its citation (TCP_NODELAY on the stub's sockets, see
``SharedFaults.start``). The
answerer is the project's own: ``LLM_PROVIDER`` settings → ``make_answerer`` → ``LlmAnswerer`` over
the real LangChain client. The questions are ``--questions`` of the anticipated in-scope questions
(knowledge/*.questions.yaml), round-robin over the sections, alternating Dutch and English.

(a) Time, no faults: each question once as a warm-up, then ``--rounds`` times each of the
quote-only answer (``Answerer.answer``), the LLM path (``LlmAnswerer.answer``), and the LLM path
with ``on_progress`` (as Slack calls it: every streamed piece re-checks the finished sentences).
The observer's ``total_s - model_s`` is the LLM path's own overhead: everything except waiting for
the model's stream (which, with an instant stub, is HTTP on loopback and the client libraries).
Where that overhead goes is timed by wrapping the answerer's steps for the run.

(b) Grounding under faults (``LLM_TIMEOUT_S`` = ``--timeout``): each request to the stub is,
independently, dropped (``--drop-share``), answered 500 (``--fail-share``) or answered with an
HTML body (``--garbage-share``), and independently stalled for longer than the time limit
(``--slow-share``). An answer counts as grounded when its AI text passes ``check_answer`` again
against the passages the stub was given and every quote stands word for word in the guidance, or
when it has no AI text and its sources are exactly the quote-based answer's. Exit 1 when any answer
is not grounded or any call took longer than the time limit + 1.5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
             "LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2"):
    os.environ.pop(_var, None)  # the stub is on loopback; nothing may go elsewhere

import yaml  # noqa: E402
from machine import OtherLoad, rss_now_mib  # noqa: E402

import bot.llm.writer as writer_module  # noqa: E402
from bot.core import build_core, make_answerer  # noqa: E402
from bot.llm.checks import Passage, Rules, check_answer, prompt_shingles, quoted  # noqa: E402
from bot.llm.writer import LlmAnswerer  # noqa: E402
from bot.retrieval.text import detect_language, words  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer  # noqa: E402

KNOWLEDGE = ROOT / "knowledge"
GUIDE = KNOWLEDGE / "nora-implementatie-van-ketensturing.txt"
BANK = KNOWLEDGE / (GUIDE.name + ".questions.yaml")
GRACE_S = 1.5
OTHER = "other (thread, queue, parsing queries)"
#: steps that do not run inside one another; the overhead outside them all is OTHER
TOP_LEVEL = ("read", "all searches", "quote answer (compose)", "scope check", "prompt building",
             "rules (prompt shingles)", "check_answer (whole text)", "check_sentence (progress)",
             "AI answer (quotes_for)", "merge results")


# ----------------------------------------------------------------------------- the stub model


def system_text(messages: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in messages if m["role"] == "system")


def user_text(messages: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in messages if m["role"] == "user")


def is_rewrite(messages: list[dict[str, str]]) -> bool:
    return "zoekvragen" in system_text(messages) or "search queries" in system_text(messages)


_PASSAGE = re.compile(r"^\[(\d+)\][^\n]*\n<(tekst-[0-9a-f]+)>\n(.*?)\n</\2>", re.S | re.M)
LEADS = {"nl": ("De handreiking zegt het zo:", "Daarnaast:", "Verder:"),
         "en": ("The guidance puts it like this:", "It also says:", "And further:")}


def passages_of(messages: list[dict[str, str]]) -> dict[int, str]:
    return {int(m.group(1)): m.group(3) for m in _PASSAGE.finditer(user_text(messages))}


class GoodWriter:
    """Answers at once as a well-behaved model would (``sentences`` sentences, each one verbatim
    quote of the first sentence of passage 1, 2, 3, cited), and keeps what each answer call was given."""

    def __init__(self, sentences: int = 3) -> None:
        self.sentences = sentences
        self.answers: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, messages: list[dict[str, str]], request: dict[str, Any]) -> str:
        if is_rewrite(messages):
            return "weerstand tegen nieuwe werkwijzen in de keten\nomgaan met weerbarstige cultuur"
        passages = passages_of(messages)
        leads = LEADS["en" if "answer in English" in system_text(messages) else "nl"]
        out = []
        for ref in sorted(passages)[: min(self.sentences, len(leads))]:
            quote = re.split(r"(?<=[.!?])\s+", passages[ref].strip())[0].rstrip(".")
            out.append(f"{leads[len(out)]} „{quote}” [{ref}].")
        reply = " ".join(out)
        with self.lock:
            self.answers.append({"prompt": user_text(messages), "passages": passages, "reply": reply})
        return reply


class SharedFaults(FakeLLMServer):
    """The stub with each request's faults drawn independently, by share (seeded)."""

    def __init__(self, responder: GoodWriter, *, drop: float, fail: float, garbage: float,
                 slow: float, stall_s: float, seed: int) -> None:
        super().__init__(responder)
        self.shares = (drop, fail, garbage, slow)
        self.stall_s = stall_s
        self.draws = random.Random(seed)
        self.enabled = False

    def start(self) -> SharedFaults:
        super().start()
        httpd = self._httpd
        assert httpd is not None
        # a client that gave up resets its connection; socketserver would print each traceback
        httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        # TCP_NODELAY: the stub writes each SSE event on its own; with Nagle's algorithm and the
        # client's delayed ACK, Anthropic-style streams stall about 40 ms per call on loopback
        httpd.RequestHandlerClass = type("NoDelayHandler", (httpd.RequestHandlerClass,),
                                         {"disable_nagle_algorithm": True})
        return self

    def _take_faults(self) -> tuple[str | None, int, float]:
        if not self.enabled:
            return super()._take_faults()
        drop, fail, garbage, slow = self.shares
        with self._cond:
            u, stalled = self.draws.random(), self.draws.random() < slow
        pause = self.stall_s if stalled else 0.0
        if u < drop:
            return "drop", 0, pause
        if u < drop + fail:
            return "fail", 500, pause
        if u < drop + fail + garbage:
            return "garbage", 200, pause
        return None, 200, pause


# ----------------------------------------------------------------------------- helpers


def in_scope_questions(n: int) -> list[str]:
    bank = yaml.safe_load(BANK.read_text(encoding="utf-8"))
    pools = [{lang: [q for q in qs if detect_language(q) == lang] for lang in ("nl", "en")}
             for qs in bank.values()]
    picked: list[str] = []
    round_ = 0
    while len(picked) < n and round_ < 100:
        for s, pool in enumerate(pools):
            lang = "nl" if (s + round_) % 2 == 0 else "en"
            if round_ * 7 < len(pool[lang]):
                picked.append(pool[lang][round_ * 7])
            if len(picked) == n:
                break
        round_ += 1
    return picked


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'").replace("‘", "'")).strip()


GUIDANCE = _norm(GUIDE.read_text(encoding="utf-8"))


def in_guidance(quote: str) -> bool:
    pieces = [p.strip(" ,;:") for p in re.split(r"…|\.\.\.", _norm(quote))]
    return all(p in GUIDANCE or p.rstrip(".") in GUIDANCE for p in pieces if p)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in 0..100."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def ms(values: list[float]) -> dict[str, float]:
    v = [x * 1000 for x in values]
    return {"median": round(statistics.median(v), 1), "p95": round(pct(v, 95), 1), "max": round(max(v), 1)}


def machine() -> dict[str, Any]:
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal:"))
    cpu = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
           if line.startswith("model name")]
    return {"nproc": len(os.sched_getaffinity(0)), "ram_gib": round(mem / 1024 / 1024, 1),
            "cpu": cpu[0] if cpu else platform.machine(), "python": platform.python_version(),
            "langchain_openai": version("langchain-openai"),
            "langchain_anthropic": version("langchain-anthropic"),
            "date": datetime.now().astimezone().isoformat(timespec="seconds")}


class StepTimer:
    """Wraps callables for a while and sums the time spent in each (per answer)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._undo: list[Callable[[], None]] = []
        self._depth = threading.local()

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        real = getattr(owner, attr)
        had_own = attr in getattr(owner, "__dict__", {})

        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not threading.main_thread():
                return real(*args, **kwargs)
            t = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.spent[name] += time.perf_counter() - t
                self.calls[name] += 1

        if isinstance(owner, type(writer_module)):  # a module: swap its global, put it back after
            setattr(owner, attr, timed)
            self._undo.append(lambda: setattr(owner, attr, real))
            return
        object.__setattr__(owner, attr, timed)  # an instance (frozen dataclasses too): shadow the method
        self._undo.append(lambda: object.__setattr__(owner, attr, real) if had_own
                          else object.__delattr__(owner, attr))

    def take(self) -> tuple[dict[str, float], Counter[str]]:
        """Time and calls per step since the last ``take``."""
        out = dict(self.spent), Counter(self.calls)
        self.spent.clear()
        self.calls.clear()
        return out

    def undo(self) -> None:
        for f in reversed(self._undo):
            f()
        self._undo.clear()


@contextlib.contextmanager
def stub(responder: GoodWriter, **faults: Any) -> Iterator[SharedFaults]:  # noqa: D103
    server = SharedFaults(responder, **faults)
    with server:
        yield server


def llm_answerer(tmp: str, provider: str, server: FakeLLMServer, core,  # type: ignore[no-untyped-def]
                 timeout_s: float) -> LlmAnswerer:
    url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    settings = load_settings({"DATA_DIR": tmp, "KNOWLEDGE_DIR": str(KNOWLEDGE), "LLM_PROVIDER": provider,
                              "LLM_MODEL": "stub", "LLM_BASE_URL": url, "LLM_API_KEY": "bench-key",
                              "LLM_TIMEOUT_S": str(timeout_s)}, env_file=None)
    answerer = make_answerer(settings, core.answerer)
    assert isinstance(answerer, LlmAnswerer)
    return answerer


# ----------------------------------------------------------------------------- (a) time


def measure_time(core, tmp: str, questions: list[str],  # type: ignore[no-untyped-def]
                 args: argparse.Namespace) -> dict[str, Any]:
    provider, rounds = args.provider, args.rounds
    writer = GoodWriter(args.sentences)
    with stub(writer, drop=0, fail=0, garbage=0, slow=0, stall_s=0, seed=0) as server:
        llm = llm_answerer(tmp, provider, server, core, timeout_s=20)
        seen: list[dict] = []
        llm.observer = seen.append
        for q in questions:  # warm-up: embeddings cache, HTTP keep-alive, imports
            core.answerer.answer(q)
            llm.answer(q)
            llm.answer(q, on_progress=lambda text: None)
        seen.clear()
        llm.outcomes.clear()
        n_requests = len(server.requests)

        timer = StepTimer()
        base = core.answerer
        timer.wrap(base, "read", "read")
        timer.wrap(base, "retrieve", "question search")
        timer.wrap(base, "compose", "quote answer (compose)")
        timer.wrap(llm, "_may_bridge", "scope check")
        timer.wrap(core.search, "search", "all searches")
        timer.wrap(llm.prompts, "rewrite_messages", "prompt building")
        timer.wrap(llm.prompts, "answer_messages", "prompt building")
        timer.wrap(llm, "_rules", "rules (prompt shingles)")
        timer.wrap(writer_module, "check_answer", "check_answer (whole text)")
        timer.wrap(writer_module, "check_sentence", "check_sentence (progress)")
        timer.wrap(llm, "supports", "support check (embeds)")
        timer.wrap(llm, "_ai_answer", "AI answer (quotes_for)")
        timer.wrap(writer_module, "merge", "merge results")

        quote_s: list[float] = []
        llm_s: list[float] = []
        progress_s: list[float] = []
        steps: dict[str, list[float]] = defaultdict(list)
        steps_progress: dict[str, list[float]] = defaultdict(list)
        model_s: list[float] = []
        overhead_s: list[float] = []
        overhead_progress_s: list[float] = []
        ai = 0
        calls: Counter[str] = Counter()
        calls_progress: Counter[str] = Counter()
        try:
            for _ in range(rounds):
                for q in questions:
                    t = time.perf_counter()
                    core.answerer.answer(q)
                    quote_s.append(time.perf_counter() - t)
                    timer.take()

                    t = time.perf_counter()
                    answer = llm.answer(q)
                    llm_s.append(time.perf_counter() - t)
                    ai += bool(answer.ai_text)
                    got = seen[-1]
                    model_s.append(got["model_s"])
                    overhead_s.append(got["total_s"] - got["model_s"])
                    spent, n = timer.take()
                    calls.update(n)
                    spent[OTHER] = overhead_s[-1] - sum(spent.get(k, 0.0) for k in TOP_LEVEL)
                    for k in set(spent) | set(steps):
                        steps[k].append(spent.get(k, 0.0))

                    t = time.perf_counter()
                    llm.answer(q, on_progress=lambda text: None)
                    progress_s.append(time.perf_counter() - t)
                    got = seen[-1]
                    overhead_progress_s.append(got["total_s"] - got["model_s"])
                    spent, n = timer.take()
                    calls_progress.update(n)
                    spent[OTHER] = overhead_progress_s[-1] - sum(spent.get(k, 0.0) for k in TOP_LEVEL)
                    for k in set(spent) | set(steps_progress):
                        steps_progress[k].append(spent.get(k, 0.0))
        finally:
            timer.undo()
        per_answer = rounds * len(questions)
        requests = len(server.requests) - n_requests
    return {
        "answers_timed": len(llm_s),
        "ai_answers": ai,
        "quote_only_ms": ms(quote_s),
        "llm_path_ms": ms(llm_s),
        "llm_path_with_progress_ms": ms(progress_s),
        "model_stream_wait_ms": ms(model_s),
        "llm_overhead_ms": ms(overhead_s),
        "llm_overhead_with_progress_ms": ms(overhead_progress_s),
        "steps_median_ms": {k: round(statistics.median(v) * 1000, 1) for k, v in sorted(steps.items())},
        "steps_with_progress_median_ms": {k: round(statistics.median(v) * 1000, 1)
                                          for k, v in sorted(steps_progress.items())},
        "calls_per_llm_answer": {k: round(v / per_answer, 2) for k, v in sorted(calls.items())},
        "calls_per_llm_answer_with_progress": {k: round(v / per_answer, 2)
                                               for k, v in sorted(calls_progress.items())},
        "stub_requests_per_llm_answer": round(requests / (2 * per_answer), 2),
        "outcomes": dict(llm.outcomes),
    }


# ----------------------------------------------------------------------------- (b) grounding


def grounded(llm: LlmAnswerer, writer: GoodWriter, plain, question: str, answer) -> str:  # type: ignore[no-untyped-def]
    """"" when the answer is grounded, else why not."""
    if not answer.ai_text:
        if answer.sources != plain.sources or answer.answered != plain.answered:
            return "no AI text, but not the quote-based answer"
        return "" if all(in_guidance(s.quote) for s in answer.quotes) else "a quote not in the guidance"
    with writer.lock:
        written = [a for a in writer.answers if a["reply"] == answer.ai_text and question in a["prompt"]]
    if not written:
        return "AI text the stub never wrote"
    passages = [Passage(ref, text) for ref, text in sorted(written[-1]["passages"].items())]
    rules = Rules(passages=passages, language=answer.language, canary=llm.prompts.canary,
                  prompt_shingles=prompt_shingles(llm.prompts.system_texts(), passages),
                  support=lambda sentence, cited: llm.supports(sentence, cited, answer.language))
    try:
        checked = check_answer(answer.ai_text, rules)
    except Exception as exc:  # noqa: BLE001 - counted
        return f"AI text fails the checks again: {exc}"
    if not checked.covered or not checked.cited:
        return "AI text without citations"
    if not all(in_guidance(q) for q in quoted(answer.ai_text) if len(words(q)) >= 3):
        return "AI text quotes something not in the guidance"
    if not answer.quotes or not all(in_guidance(s.quote) for s in answer.quotes):
        return "a source quote not in the guidance"
    return ""


def measure_faults(core, tmp: str, questions: list[str],  # type: ignore[no-untyped-def]
                   args: argparse.Namespace) -> dict[str, Any]:
    provider = args.provider
    writer = GoodWriter(args.sentences)
    faults = {"drop": args.drop_share, "fail": args.fail_share, "garbage": args.garbage_share,
              "slow": args.slow_share, "stall_s": args.timeout + 1.0, "seed": args.seed}
    with stub(writer, **faults) as server:
        llm = llm_answerer(tmp, provider, server, core, timeout_s=args.timeout)
        seen: list[dict] = []
        llm.observer = seen.append
        server.enabled = True
        problems: list[str] = []
        bad: set[int] = set()
        elapsed: list[float] = []
        started = time.monotonic()
        for n, q in enumerate(questions):
            t = time.monotonic()
            answer = llm.answer(q)
            elapsed.append(time.monotonic() - t)
            why = grounded(llm, writer, core.answerer.answer(q), q, answer)
            if why:
                bad.add(n)
                problems.append(f"{q[:60]!r}: {why}")
            if elapsed[-1] > args.timeout + GRACE_S:
                problems.append(f"{q[:60]!r}: took {elapsed[-1]:.2f} s")
        wall = time.monotonic() - started
        server.enabled = False
        counts = server.counts
    kinds: Counter[str] = Counter()
    for key, n in llm.outcomes.items():
        kinds[key.split(":")[1] if key.startswith("fallback:") else key] += n
    ai_totals = [s["total_s"] for s in seen if s["outcome"] == "ai"]
    return {
        "questions": len(questions),
        "grounded": len(questions) - len(bad),
        "problems": problems,
        "outcome_kinds": dict(kinds.most_common()),
        "outcomes": dict(Counter(llm.outcomes).most_common()),
        "stub_requests": counts,
        "answer_s": {"median": round(statistics.median(elapsed), 2), "p95": round(pct(elapsed, 95), 2),
                     "max": round(max(elapsed), 2)},
        "ai_answer_s_median": round(statistics.median(ai_totals), 2) if ai_totals else None,
        "limit_s": args.timeout,
        "wall_s": round(wall, 1),
    }


# ----------------------------------------------------------------------------- report


def print_report(r: dict[str, Any]) -> None:
    m, t, f, shares = r["machine"], r["time"], r["faults"], r["shares"]
    print(f"machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM; python {m['python']}, "
          f"langchain-openai {m['langchain_openai']}, langchain-anthropic {m['langchain_anthropic']}")
    print(f"date: {m['date']}")
    print(f"provider {r['provider']} -> FakeLLMServer on 127.0.0.1, instant replies of {r['sentences']} "
          f"quoting sentence(s); build_core {r['build_core_s']} s; {r['questions']} in-scope questions "
          f"({r['languages']})")
    print(f"\n(a) time, no faults: {t['answers_timed']} answers per path, {t['ai_answers']} of the LLM ones "
          "with AI text")

    def row(label: str, d: dict[str, float]) -> None:
        print(f"  {label:42s} median {d['median']:7.1f} ms   p95 {d['p95']:7.1f} ms   max {d['max']:7.1f} ms")

    row("quote-only answer (Answerer.answer)", t["quote_only_ms"])
    row("LLM path (LlmAnswerer.answer)", t["llm_path_ms"])
    row("LLM path with on_progress (as in Slack)", t["llm_path_with_progress_ms"])
    row("  waiting for the model's stream (model_s)", t["model_stream_wait_ms"])
    row("  overhead = total_s - model_s", t["llm_overhead_ms"])
    row("  overhead with on_progress", t["llm_overhead_with_progress_ms"])
    print(f"  stub requests per LLM answer: {t['stub_requests_per_llm_answer']}")
    print("  steps of the LLM path, median ms and calls per answer, without / with on_progress")
    print("  (indented: inside the step(s) above it; 'other' is the overhead outside every step):")
    plain, progress = t["steps_median_ms"], t["steps_with_progress_median_ms"]
    n_plain, n_progress = t["calls_per_llm_answer"], t["calls_per_llm_answer_with_progress"]
    order = ["all searches", "question search", "check_answer (whole text)", "check_sentence (progress)",
             "support check (embeds)", "AI answer (quotes_for)", OTHER]
    nested = {"question search", "support check (embeds)"}  # in the searches; in both checks
    for k in sorted(set(plain) | set(progress), key=lambda k: (order + [k]).index(k)):
        label = ("  " if k in nested else "") + k
        print(f"    {label:42s} {plain.get(k, 0):6.1f} ms {n_plain.get(k, 0):5.2f}x"
              f"   {progress.get(k, 0):6.1f} ms {n_progress.get(k, 0):5.2f}x")
    print(f"\n(b) grounding under faults, each request: dropped {shares['drop']}, 500 {shares['fail']}, "
          f"HTML body {shares['garbage']}; stalled {f['limit_s'] + 1.0} s {shares['slow']}; "
          f"LLM_TIMEOUT_S {f['limit_s']}")
    print(f"  grounded: {f['grounded']}/{f['questions']} answers  ("
          + ", ".join(f"{k} {v}" for k, v in f["outcome_kinds"].items()) + ")")
    print("  detail: " + ", ".join(f"{k} {v}" for k, v in f["outcomes"].items()))
    print(f"  stub requests: {f['stub_requests']}")
    a = f["answer_s"]
    print(f"  answer time: median {a['median']} s, p95 {a['p95']} s, max {a['max']} s (limit {f['limit_s']} "
          f"+ {GRACE_S} s); AI answers median {f['ai_answer_s_median']} s; wall {f['wall_s']} s")
    for p in f["problems"]:
        print(f"  NOT GROUNDED / TOO SLOW: {p}")
    print(f"\nother processes used {r['other_processes_cores']} cores meanwhile; RSS {r['rss_mib']} MiB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds of (a)")
    ap.add_argument("--provider", choices=("openai", "anthropic"), default="openai")
    ap.add_argument("--fail-share", type=float, default=0.3, help="share of requests answered 500")
    ap.add_argument("--slow-share", type=float, default=0.2, help="share of requests stalled past the limit")
    ap.add_argument("--garbage-share", type=float, default=0.05, help="share answered 200 with an HTML body")
    ap.add_argument("--drop-share", type=float, default=0.05, help="share closed without a byte")
    ap.add_argument("--timeout", type=float, default=2.0, help="LLM_TIMEOUT_S for (b), 1..300")
    ap.add_argument("--sentences", type=int, default=3, choices=(1, 2, 3),
                    help="sentences in the stub's answer, each quoting and citing one passage")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.drop_share + args.fail_share + args.garbage_share > 1:
        ap.error("drop + fail + garbage shares exceed 1")

    logging.getLogger("bot.llm.writer").setLevel(logging.ERROR)  # one warning per fallback otherwise
    questions = in_scope_questions(args.questions)
    with tempfile.TemporaryDirectory(prefix="ketenbot-llm-") as tmp:
        env = {"DATA_DIR": tmp, "KNOWLEDGE_DIR": str(KNOWLEDGE)}
        t = time.perf_counter()
        core = build_core(load_settings(env, env_file=None))
        build_s = time.perf_counter() - t
        others = OtherLoad()
        timing = measure_time(core, tmp, questions, args)
        faults = measure_faults(core, tmp, questions, args)
        report = {
            "machine": machine(),
            "provider": args.provider,
            "sentences": args.sentences,
            "build_core_s": round(build_s, 2),
            "questions": len(questions),
            "languages": ", ".join(f"{k} {v}" for k, v in Counter(map(detect_language, questions)).items()),
            "shares": {"drop": args.drop_share, "fail": args.fail_share, "garbage": args.garbage_share,
                       "slow": args.slow_share},
            "time": timing,
            "faults": faults,
            "other_processes_cores": others.cores(),
            "rss_mib": round(rss_now_mib(), 1),
        }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_report(report)
    return 1 if faults["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
