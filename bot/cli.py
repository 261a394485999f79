"""``ketenbot`` command line: run, chat, ask, index."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from bot.settings import Settings, SettingsError, load_settings

EXIT_CONFIG = 2
EXIT_USAGE = 2


def _quiet_libraries() -> None:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("chromadb", "httpx", "sentence_transformers", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _build(settings: Settings, progress: bool):
    from bot.core import build_core
    from bot.index.indexer import EmptyKnowledge
    from bot.index.store import StoreUnavailable

    say = (lambda msg: print(msg, file=sys.stderr)) if progress else None
    try:
        core = build_core(settings, progress=say)
    except (EmptyKnowledge, StoreUnavailable) as exc:
        print(f"ketenbot: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from exc
    for name, reason in core.index_report.skipped if core.index_report else []:
        print(f"ketenbot: skipped {name}: {reason}", file=sys.stderr)
    return core


def cmd_index(settings: Settings, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    core = _build(settings, progress=not args.quiet)
    r = core.index_report
    print(
        f"Index up to date: {r.files} files ({r.unchanged_files} unchanged, {r.parsed_files} parsed, "
        f"{r.removed_files} removed, {len(r.skipped)} skipped); chunks +{r.chunks_added} "
        f"-{r.chunks_removed}, {core.store.count()} in total; {time.perf_counter() - started:.1f}s."
    )
    return 0


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    questions = args.questions
    if questions == ["-"]:  # undecodable bytes become U+FFFD rather than an error
        questions = sys.stdin.buffer.read().decode("utf-8", "replace").splitlines()
    if not questions:
        print("ketenbot ask: give a question, or '-' to read one question per line.", file=sys.stderr)
        return EXIT_CONFIG
    core = _build(settings, progress=False)
    for q in questions:
        answer = core.answerer.answer(q)
        if args.json:
            print(json.dumps(answer.as_json_dict(), ensure_ascii=False), flush=True)
        else:
            print(answer.as_text() + "\n", flush=True)
    return 0


def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console import chat

    print("Ketenbot laadt de handreiking…", file=sys.stderr)
    core = _build(settings, progress=True)
    return chat(
        core,
        sys.stdin,
        sys.stdout,
        checkins=_console_checkins(settings),
        min_group=settings.min_group_size,
        zone=settings.zone,
        export_dir=settings.data_dir,
    )


def _console_checkins(settings: Settings):  # noqa: ANN202 - a Checkins, or None
    """The check-in store for the console; None (the console still answers) when the records
    database cannot be opened, so a newcomer is never stopped by it."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from bot.checkins.store import Checkins
    from bot.records.db import make_engine, migrate

    try:
        engine = make_engine(settings.database_url)
        migrate(engine)
    except (SQLAlchemyError, CommandError, OSError, ImportError) as exc:
        first_line = (str(exc).splitlines() or [""])[0][:300]
        print(
            f"ketenbot: the check-in is off in this console: the records database cannot be opened "
            f"({type(exc).__name__}: {first_line}); check DATABASE_URL.",
            file=sys.stderr,
        )
        return None
    return Checkins(engine)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.slack_configured:
        print(
            "Geen Slack-tokens ingesteld (SLACK_BOT_TOKEN); Ketenbot start de lokale console.\n"
            "No Slack tokens configured; starting the local console chat.",
            file=sys.stderr,
        )
        return cmd_chat(settings, args)
    if args.http and not settings.slack_signing_secret:
        print("ketenbot: HTTP mode needs SLACK_SIGNING_SECRET to verify Slack's requests.", file=sys.stderr)
        return EXIT_CONFIG
    if not args.http and not settings.slack_app_token:
        print(
            "ketenbot: set SLACK_APP_TOKEN (xapp-…) for Socket Mode, or run 'ketenbot run --http' "
            "with SLACK_SIGNING_SECRET behind a public HTTPS URL.",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    from datetime import timedelta

    from bot.records.db import make_engine, migrate
    from bot.records.outbox import Outbox
    from bot.records.pending import PendingQuestions
    from bot.records.store import Records
    from bot.slack.app import create_app, make_client
    from bot.slack.deps import SlackDeps
    from bot.slack.pending import PendingSweep

    if settings.failpoints:  # fault tests only: this process kills itself at the named steps
        from bot.ops import failpoints

        failpoints.arm(settings.failpoints)
        print(f"ketenbot: FAILPOINTS armed: {settings.failpoints}", file=sys.stderr)
    problem = _slack_problem(make_client(settings), settings.slack_api_url)
    if problem:  # before loading anything: a wrong token or no route to Slack is said at once
        print(f"ketenbot: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    core = _build(settings, progress=True)
    engine = make_engine(settings.database_url)
    migrate(engine)
    outbox = Outbox(settings.data_dir / "outbox.jsonl")
    records = Records(engine)
    outbox.flush(records)  # answers kept while the database was down last time
    client = make_client(settings)
    service, runner = _checkins(settings, engine, client)
    from bot.reports.service import ReportService

    reports = ReportService(
        engine,
        service.store,
        admins=settings.admin_user_ids,
        min_group=settings.min_group_size,
        zone=settings.zone,
    )
    deps = SlackDeps(
        core.answerer,
        records,
        handoff_channel=settings.slack_handoff_channel,
        outbox=outbox,
        checkins=service,
        due=runner,
        reports=reports,
        locales=runner.messenger.locales,
        pending=PendingQuestions(engine),
    )
    app = create_app(settings, deps, client)
    # questions a killed worker left unanswered: taken over once they are older than any answer takes
    stale_after = timedelta(seconds=max(60.0, settings.llm_timeout_s + 45))
    PendingSweep(deps, client, stale_after=stale_after, every_s=settings.due_interval_s).start()
    runner.start(every_seconds=settings.due_interval_s)  # planned rounds, reminders, closing, purge
    import gc

    gc.freeze()  # the start-up objects (index, models) need no scanning by every full collection
    if args.http:
        from bot.ops.health import readiness
        from bot.slack.http import serve

        print(f"Ketenbot listens for Slack on http://{args.host}:{args.port}/slack/events", file=sys.stderr)
        serve(app, args.host, args.port, health=readiness(engine, core.store, core.search))
        return 0
    # slack_sdk's builtin client. Known: after Slack asks for a refresh it reads the new connection only
    # when its blocking read on the old one times out (3 s), so that first envelope is acked ~3.1 s late
    # and Slack retries it; the retry is not answered twice (messages are claimed once, see events.py).
    # slack_bolt's websocket-client adapter did not reconnect at all against our fake (see issue notes).
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    print("Ketenbot connects to Slack in Socket Mode.", file=sys.stderr)
    SocketModeHandler(app, settings.slack_app_token).start()
    return 0


def _checkins(settings: Settings, engine, client):  # noqa: ANN001, ANN202 - engine, WebClient
    from bot.checkins.runner import DueRunner
    from bot.checkins.service import CheckinService
    from bot.checkins.store import Checkins
    from bot.records.outbox import Outbox
    from bot.records.store import Records
    from bot.slack.locales import UserLocales
    from bot.slack.messenger import SlackMessenger

    store = Checkins(engine)
    locales = UserLocales(lookup=Records(engine).language_of)
    messenger = SlackMessenger(client, locales)
    from bot.nudges.schedule import Nudges

    nudges = Nudges(engine)
    service = CheckinService(
        store,
        admins=settings.admin_user_ids,
        zone=settings.zone,
        min_group=settings.min_group_size,
        directory=messenger,
        nudges=nudges,
    )
    from types import SimpleNamespace

    runner = DueRunner(
        store,
        messenger,
        zone=settings.zone,
        min_group=settings.min_group_size,
        nudges=nudges,
        reports=SimpleNamespace(engine=engine, min_group=settings.min_group_size),
        retention_days=settings.retention_days,
        outbox=Outbox(settings.data_dir / "outbox.jsonl"),
    )
    return service, runner


def cmd_due(settings: Settings, args: argparse.Namespace) -> int:
    """Run the scheduled check-in work that is due now (or at --now) once, and print what was done."""
    import json
    from datetime import UTC, datetime

    from bot.records.db import make_engine, migrate
    from bot.slack.client import make_client

    now = datetime.now(UTC)
    if args.now:
        try:
            now = datetime.fromisoformat(args.now)
        except ValueError:
            print(
                "ketenbot: --now must be an ISO-8601 moment such as 2027-01-11T09:00+01:00, "
                f"got {args.now!r}.",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if now.tzinfo is None:
            now = now.replace(tzinfo=settings.zone)
    if not settings.slack_configured:
        print("ketenbot: 'due' sends Slack messages and needs SLACK_BOT_TOKEN.", file=sys.stderr)
        return EXIT_CONFIG
    engine = make_engine(settings.database_url)
    migrate(engine)
    _service, runner = _checkins(settings, engine, make_client(settings))
    report = runner.run(now.astimezone(UTC))
    print(json.dumps(report.as_dict() if report else {}, ensure_ascii=False))
    return 1 if report is not None and report.failed else 0


def _records_engine(settings: Settings):  # noqa: ANN202 - a SQLAlchemy Engine
    from bot.records.db import make_engine, migrate

    engine = make_engine(settings.database_url)
    migrate(engine)
    return engine


def cmd_rapport(settings: Settings, args: argparse.Namespace) -> int:
    """Print the aggregated report (text or JSON) and optionally write the chart of one chain."""
    import json

    from bot.checkins.store import Checkins
    from bot.reports.service import MAX_WEEKS, ReportService, report_json, report_text

    if not 1 <= args.weken <= MAX_WEEKS:
        print(f"ketenbot: --weken must be a whole number from 1 to {MAX_WEEKS}.", file=sys.stderr)
        return EXIT_USAGE
    engine = _records_engine(settings)
    service = ReportService(
        engine,
        Checkins(engine),
        admins=settings.admin_user_ids,
        min_group=settings.min_group_size,
        zone=settings.zone,
    )
    request = service.request("cli", f"{args.keten or ''} {args.weken}", "nl", surface="cli")
    if request.report is None:
        print(f"ketenbot: {request.message}", file=sys.stderr)
        return EXIT_USAGE
    report = request.report
    if not report.chains:
        print("Nog geen ketens in deze database. Probeer 'ketenbot demo' voor een voorbeeldgeschiedenis.")
        return 0
    if args.png:
        if len(report.chains) != 1:
            print("ketenbot: --png needs one chain: add --keten NAAM.", file=sys.stderr)
            return EXIT_USAGE
        from bot.reports.chart import render_chain_chart

        render_chain_chart(report.chains[0], "nl", args.png, zone=settings.zone, min_group=report.min_group)
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False))
    else:
        print(report_text(report, "nl", settings.zone))
        if args.png:
            print(f"\nGrafiek: {args.png}")
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Fill the local database with a synthetic history of several chains."""
    from datetime import UTC, datetime

    from bot.reports.demo import fill_demo

    if not (1 <= args.ketens <= 300 and 1 <= args.weken <= 104):
        print("ketenbot: demo needs --ketens from 1 to 300 and --weken from 1 to 104.", file=sys.stderr)
        return EXIT_USAGE
    engine = _records_engine(settings)
    ids = fill_demo(engine, chains=args.ketens, weeks=args.weken, now=datetime.now(UTC))
    print(
        f"Demo: {len(ids)} ketens met {args.weken} weken aan check-ins in {settings.database_url.split('://')[0]}."
    )
    print("Probeer: ketenbot rapport  ·  ketenbot rapport --keten 'Zorgketen Oost' --png zorgketen.png")
    return 0


def _slack_problem(client, api_url: str) -> str:  # noqa: ANN001 - a slack_sdk WebClient
    """Why Slack cannot be used with these settings, or "" when auth.test succeeds."""
    from slack_sdk.errors import SlackApiError

    try:
        client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error") if exc.response is not None else "unknown_error"
        return f"Slack refused the bot token ({error}); check SLACK_BOT_TOKEN."
    except OSError as exc:  # URLError, timeouts, refused connections
        return f"cannot reach Slack at {api_url} ({type(exc).__name__}); check the network or SLACK_API_URL."
    return ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ketenbot", description="Coach for chain governance (ketensturing)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the bot (Slack when tokens are set, else the console)")
    p.add_argument("--http", action="store_true", help="serve Slack over HTTP instead of Socket Mode")
    p.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to listen on (default all)")
    p.add_argument("--port", type=int, default=3000, help="HTTP mode: port (default 3000)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("chat", help="local console chat on the same core")
    p.set_defaults(func=cmd_chat)
    p = sub.add_parser("ask", help="answer questions and print them")
    p.add_argument("--json", action="store_true", help="one JSON object per question per line")
    p.add_argument("questions", nargs="*", help="questions, or '-' for one per line on stdin")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("due", help="run the check-in work that is due (the bot does so every minute)")
    p.add_argument("--now", help="pretend it is this moment (ISO-8601; in TZ when no offset is given)")
    p.set_defaults(func=cmd_due)
    p = sub.add_parser("rapport", help="aggregated check-in report (never about a person)")
    p.add_argument("--keten", help="one chain, by name (default: all chains)")
    p.add_argument("--weken", type=int, default=12, help="weeks back (default 12)")
    p.add_argument("--json", action="store_true", help="JSON for tools")
    p.add_argument("--png", help="write the chain's chart to this PNG file (needs --keten)")
    p.set_defaults(func=cmd_rapport)
    p = sub.add_parser("demo", help="fill the local database with a synthetic history to try reports")
    p.add_argument("--ketens", type=int, default=6, help="number of chains (default 6)")
    p.add_argument("--weken", type=int, default=26, help="weeks of history (default 26)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("index", help="bring the search index up to date with KNOWLEDGE_DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-file progress")
    p.set_defaults(func=cmd_index)
    return parser


def main(argv: list[str] | None = None) -> int:
    from bot.ops.logs import configure_logging, settings_secrets

    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    configure_logging("text", level)  # until the settings say which format
    _quiet_libraries()
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"ketenbot: {exc}\nSee .env.example for every setting.", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_format, level, secrets=settings_secrets(settings))
    try:
        return args.func(settings, args)
    except KeyboardInterrupt:
        print("\nTot ziens.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
