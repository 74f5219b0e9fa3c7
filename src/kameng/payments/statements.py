"""A day's statement as `StatementLine`s: fetched through the channel's gateway, or read from a file
the operator downloaded from the gateway's merchant console, parsed by the same adapter's parser.

A file is read in the format of the channel's real gateway (Alipay: the bill zip or its detail CSV in
GBK; WeChat Pay: the trade bill, gzipped or not), whoever serves the channel here.
"""

import gzip
import io
from datetime import date

from .gateways import registry
from .gateways.base import GatewayError, StatementLine, UnknownOutcome

FILE_MAX_BYTES = 50 * 1024 * 1024


class StatementUnreadable(Exception):
    """No statement could be had; the message says why and never carries a key or a URL's token."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def statement_fetch(*, channel: str, day: date) -> list[StatementLine]:
    try:
        gateway = registry.gateway_for(channel)
    except registry.ChannelUnavailable:
        raise StatementUnreadable("NOT_CONFIGURED", f"the {channel} channel is not configured here") from None
    try:
        return gateway.statement(day)
    except GatewayError as exc:
        raise StatementUnreadable("FETCH_FAILED", f"the gateway's statement could not be fetched ({exc.__class__.__name__}: "
                                  f"{str(exc)[:160]})") from None


def statement_parse(*, channel: str, data: bytes) -> list[StatementLine]:
    """Parse a downloaded statement file of `channel`."""
    if len(data) > FILE_MAX_BYTES:
        raise StatementUnreadable("FILE_TOO_LARGE", "the statement file is larger than 50 MB")
    if not data.strip():
        raise StatementUnreadable("FILE_UNREADABLE", "the statement file is empty")
    try:
        if channel == "alipay":
            return _alipay(data)
        if channel == "wechat":
            return _wechat(data)
    except UnknownOutcome as exc:
        raise StatementUnreadable("FILE_UNREADABLE", f"the statement file is not readable: {str(exc)[:160]}") from None
    raise StatementUnreadable("NO_FILE_FORMAT", f"there is no statement file format for the {channel} channel")


def _alipay(data: bytes) -> list[StatementLine]:
    from .gateways.alipay import parse_bill_csv, parse_bill_zip

    if data[:2] == b"PK":
        return parse_bill_zip(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gbk", errors="replace")  # as Alipay ships it
    lines = parse_bill_csv(text)
    if lines is None:
        raise UnknownOutcome("alipay bill: no 支付宝交易号 header row")
    return lines


def _wechat(data: bytes) -> list[StatementLine]:
    from .gateways.wechat import parse_trade_bill

    if data[:2] == b"\x1f\x8b":
        try:  # read at most the limit: a small gzip may unpack to gigabytes
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as packed:
                data = packed.read(FILE_MAX_BYTES + 1)
        except (OSError, EOFError):
            raise UnknownOutcome("wechat bill: not a readable gzip") from None
        if len(data) > FILE_MAX_BYTES:
            raise UnknownOutcome("wechat bill: larger than 50 MB unpacked")
    return parse_trade_bill(data.decode("utf-8-sig", errors="replace"))
