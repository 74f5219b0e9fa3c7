"""The `kameng` command (contract §Command line)."""

import argparse
import os
import sys


def _setup(*, sandbox_default: str | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kameng.settings")
    if sandbox_default is not None:
        os.environ.setdefault("KAMENG_SANDBOX", sandbox_default)
    import django

    django.setup()


def cmd_migrate(args) -> int:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=args.verbosity)
    return 0


def cmd_createuser(args) -> int:
    from kameng.accounts.services import user_create
    from kameng.core.errors import DomainError

    try:
        user = user_create(username=args.name, password=args.password, role=args.role, phone=args.phone or "")
    except DomainError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    print(user.id)
    return 0


def cmd_serve(args) -> int:
    from kameng.server import serve

    serve(host=args.host, port=args.port, workers=args.workers, with_worker=not args.no_worker, threads=args.threads)
    return 0


def cmd_worker(args) -> int:
    import signal
    import threading

    from kameng.core.worker import run_forever

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run_forever(stop, interval=args.interval)
    return 0


def _lines(path: str):
    # surrogateescape: bytes that are not UTF-8 become lone surrogates, which the key rules reject.
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        for line in handle:
            yield line.rstrip("\r\n")


def cmd_import_keys(args) -> int:
    from tqdm import tqdm

    from kameng.catalog.models import Product
    from kameng.core.errors import DomainError
    from kameng.inventory.services import keys_import_stream

    product = Product.objects.select_related("supplier").filter(id=args.product_id).first()
    if product is None:
        print(f"error: PRODUCT_NOT_FOUND: no product {args.product_id}", file=sys.stderr)
        return 2
    if not os.path.isfile(args.file):
        print(f"error: FILE_NOT_FOUND: {args.file}", file=sys.stderr)
        return 2
    with tqdm(desc="importing", unit=" keys", disable=args.quiet, file=sys.stderr, mininterval=0.5) as bar:
        try:
            batch, result = keys_import_stream(
                actor=product.supplier, product_id=product.id, lines=_lines(args.file), source="cli", progress=bar.update
            )
        except DomainError as exc:
            print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
            return 2
    from kameng.inventory.selectors import report_runs

    # The lines not imported, by number and reason (never the line): the first runs here, all of them in the
    # report (the supplier's page and its CSV download, or GET /api/v1/admin/imports/{batch}).
    runs, total = report_runs(batch, limit=20)
    for run in runs:
        where = f"line {run.first_line}" if run.lines == 1 else f"lines {run.first_line}-{run.last_line}"
        print(f"not imported, {where}: {run.problem}", file=sys.stderr)
    if total > len(runs):
        print(f"... {total - len(runs)} more ranges in the report", file=sys.stderr)
    if result.duplicates or result.rejected:  # beside the line notes: the summary stays stdout's one line
        print(f"report: /supplier/imports/{batch.id}/ (CSV: /supplier/imports/{batch.id}/report.csv)", file=sys.stderr)
    print(f"imported: {result.imported}  duplicates: {result.duplicates}  rejected: {result.rejected}  (batch {batch.id})")
    return 0


def cmd_rotate_keys(args) -> int:
    from kameng.inventory.services import keys_rotate

    print(f"re-encrypted: {keys_rotate()}")
    return 0


def cmd_check_ledger(args) -> int:
    from kameng.ledger.selectors import book_check

    report = book_check()
    print(f"journals: {report.journals}  postings: {report.postings}  book total: {report.total_fen} fen")
    for reference, total in report.unbalanced:
        print(f"UNBALANCED {reference}: {total} fen")
    for reference in report.empty:
        print(f"INCOMPLETE {reference}: fewer than two postings")
    for order_no, fen in report.stranded:
        print(f"STRANDED IN ESCROW {order_no}: {fen} fen held with nothing left to deliver")
    for code, running, total in report.drifted:
        print(f"RUNNING BALANCE OFF {code}: kept {running} fen, postings sum to {total} fen")
    print("the book balances" if report.ok else "THE BOOK DOES NOT BALANCE")
    return 0 if report.ok else 1


def cmd_holidays(args) -> int:
    """The holiday calendar (节假日安排): status, list, add, remove, import a State Council notice."""
    from kameng.core import holidays, workdays
    from kameng.core.errors import DomainError
    from kameng.core.models import Holiday

    try:
        if args.action == "add":
            new = holidays.holiday_set(day=holidays._day(args.date), kind=args.kind, name=args.name or "")
            print(("added" if new else "changed") + f": {args.date} {args.kind} {args.name or ''}".rstrip())
        elif args.action == "remove":
            print("removed" if holidays.holiday_remove(day=holidays._day(args.date)) else "no such entry")
        elif args.action == "import":
            if not os.path.isfile(args.file):
                print(f"error: FILE_NOT_FOUND: {args.file}", file=sys.stderr)
                return 2
            with open(args.file, encoding="utf-8-sig") as handle:
                result = holidays.holidays_import(handle, replace=args.replace)
            print(f"added: {result.added}  changed: {result.changed}  removed: {result.removed}  "
                  f"years: {', '.join(map(str, result.years)) or '-'}")
        elif args.action == "list":
            rows = Holiday.objects.all()
            if args.year:
                rows = rows.filter(date__year=args.year)
            for row in rows.order_by("date"):
                print(f"{row.date:%Y-%m-%d},{row.kind},{row.name}")
    except DomainError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    workdays.forget()
    through = workdays.calendar().confirmed_through(_today())
    warning = workdays.running_out_warning()
    if args.action == "status" or warning:
        print(f"confirmed through: {through or 'not even this year'}")
    if warning:
        print(f"WARNING: {warning}", file=sys.stderr)
        return 1 if args.action == "status" else 0
    return 0


def _today():
    from django.utils import timezone

    from kameng.core import clock

    return timezone.localdate(clock.now())


def cmd_reconcile(args) -> int:
    """Contract: matched / missing here / missing there / amount differs; exit 1 when anything does not match."""
    from datetime import date

    from kameng.payments.reconciliation import beijing_today, reconcile
    from kameng.payments.selectors import reconciliation_report_lines

    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        print(f"error: INVALID_DATE: --date wants YYYY-MM-DD, not {args.date[:20]!r}", file=sys.stderr)
        return 2
    if day > beijing_today():
        print(f"error: INVALID_DATE: {day} has not happened yet (Beijing time)", file=sys.stderr)
        return 2
    data = None
    if args.file:
        if not os.path.isfile(args.file):
            print(f"error: FILE_NOT_FOUND: {args.file}", file=sys.stderr)
            return 2
        with open(args.file, "rb") as handle:
            data = handle.read(50 * 1024 * 1024 + 1)
    run = reconcile(channel=args.channel, day=day, file_data=data, file_name=args.file or "", actor="cli")
    if run.status == run.Status.FAILED:
        print(f"error: STATEMENT_UNREADABLE: {run.error}", file=sys.stderr)
        return 2
    print(f"{run.channel} {run.day}: {run.statement_lines} statement line(s), run {run.id}")
    print(f"matched: {run.matched}  missing here: {run.missing_here}  missing there: {run.missing_there}  "
          f"amount differs: {run.amount_differs}  repaired: {run.repaired}")
    for text in reconciliation_report_lines(run):
        print(text)
    return 0 if run.status == run.Status.BALANCED else 1


def cmd_demo(args) -> int:
    from kameng.demo import load_demo

    cmd_migrate(argparse.Namespace(verbosity=0))
    for line in load_demo():
        print(line)
    print(f"\nkameng demo: http://{args.host}:{args.port}/   (sandbox on, Ctrl+C to stop)\n", flush=True)
    return cmd_serve(args)


def cmd_manage(args) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kameng manage", *args.rest])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kameng", description="kameng 卡盟 platform")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="create or upgrade the database")
    p.add_argument("-v", "--verbosity", type=int, default=1)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("createuser", help="create a user; prints its id")
    p.add_argument("name")
    p.add_argument("--password", required=True)
    p.add_argument("--role", required=True)
    p.add_argument("--phone")
    p.set_defaults(func=cmd_createuser)

    for name, func, help_text in (("serve", cmd_serve, "serve pages and the API"), ("demo", cmd_demo, "demo shop")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.add_argument("--workers", type=int, default=None, help="server processes (default: 2 per core, at most 4)")
        p.add_argument("--threads", type=int, default=None, help="threads per server process (default 8)")
        p.add_argument("--no-worker", action="store_true", help="do not run background jobs in-process")
        p.set_defaults(func=func)

    p = sub.add_parser("worker", help="run background jobs and due deadlines")
    p.add_argument("--interval", type=float, default=1.0)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("import-keys", help="import keys from a file, one per line")
    p.add_argument("product_id", type=int)
    p.add_argument("file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import_keys)

    p = sub.add_parser("rotate-keys", help="re-encrypt card secrets under the newest keyring key")
    p.set_defaults(func=cmd_rotate_keys)

    p = sub.add_parser("check-ledger", help="check that the whole book balances")
    p.set_defaults(func=cmd_check_ledger)

    p = sub.add_parser("holidays", help="the holiday calendar: status, list, add, remove, import")
    hsub = p.add_subparsers(dest="action", required=True)
    hsub.add_parser("status", help="how far the calendar is confirmed; exit 1 when it runs out soon")
    h = hsub.add_parser("list", help="the entered days as DATE,KIND,NAME")
    h.add_argument("--year", type=int)
    h = hsub.add_parser("add", help="enter or change one day")
    h.add_argument("date", help="YYYY-MM-DD")
    h.add_argument("kind", help="holiday (休) or workday (班, a make-up working day)")
    h.add_argument("name", nargs="?", help="e.g. 春节")
    h = hsub.add_parser("remove", help="remove one day's entry")
    h.add_argument("date", help="YYYY-MM-DD")
    h = hsub.add_parser("import", help="a notice from a file: DATE[~DATE],KIND[,NAME] per line")
    h.add_argument("file")
    h.add_argument("--replace", action="store_true", help="first remove the other entries of the file's years")
    p.set_defaults(func=cmd_holidays)

    p = sub.add_parser("reconcile", help="match a day's gateway statement against payments and refunds")
    p.add_argument("channel", choices=("alipay", "wechat", "bank"))
    p.add_argument("--date", required=True, help="the statement's day, YYYY-MM-DD (Beijing time)")
    p.add_argument("--file", help="a statement file downloaded from the gateway, instead of fetching it")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("manage", help="run a Django management command")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)
    return parser


def main(argv: list[str] | None = None) -> int:
    from kameng.core.config import restrict_umask

    restrict_umask()  # first: the data directory's files are this user's alone (issue 6)
    args = build_parser().parse_args(argv)
    _setup(sandbox_default="1" if args.command == "demo" else None)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
