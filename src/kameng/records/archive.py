"""The buyer's export as a signed ZIP, built while it is sent.

Signed exactly like the refund dossier (kameng.aftersales.dossier: the same manifest, signature and
public-key files, the same JSON form, checked by the same `dossier_verify`): `manifest.json` lists
the SHA-256 of every file, `manifest.sig` is the platform's Ed25519 signature of its bytes.

Nothing is held whole: each record file is written line by line from querysets read in chunks
(CHUNK orders at a time), evidence files in 1 MB blocks, every file hashed on its way into the
archive; the manifest is made last, once every byte before it is known.
"""

import csv
import hashlib
import io
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream

from kameng.aftersales.dossier import CHUNK as FILE_BLOCK
from kameng.aftersales.dossier import MANIFEST, PUBLIC_KEY, SIGNATURE, _json_bytes
from kameng.aftersales.evidence import evidence_path
from kameng.aftersales.models import Evidence, Reason, Refund, RefundStatus
from kameng.core import locks, signing
from kameng.core.money import fen_str
from kameng.core.times import for_person, iso_beijing
from kameng.inventory import services as inventory
from kameng.inventory.models import KeyIssue
from kameng.ledger.history import wallet_lines_all
from kameng.notifications.models import InboxMessage
from kameng.notifications.render import language_of, message_text
from kameng.orders.models import ItemStatus, Order, OrderEvent, OrderItem, OrderStatus
from kameng.orders.snapshots import snapshot_of
from kameng.payments.models import Payment

CHUNK = 500  # orders (or refunds, messages) read per query
ORDER_COLUMNS = ("id", "order_no", "status", "snapshot_version_id", "quantity", "unit_price_fen", "amount_fen", "refunded_fen",
                 "channel", "recharge_account", "created_at", "paid_at", "delivered_at", "terms_text",
                 "terms_accepted_at")
LINES_PER_BLOCK = 200  # JSON lines joined into one block before it goes to the archive
README = "README.txt"

README_TEXT = """\
我的数据导出 / My records
================================

账号 / Account: {username}
生成时间 / Generated: {generated_at}（北京时间 / Beijing time）

【内容】
  profile.json      账号信息
  orders.jsonl      全部订单（每行一单）：下单时的商品页与售后规则快照、支付、发货、事件
  secrets.jsonl     已发货的卡密与链接（明文，仅账号本人可导出；本次导出已记入查看记录）；
                    售后处理中的商品不在此列，处理完毕后可再次导出
  refunds.jsonl     全部售后申请：时间线、双方留言、证据清单
  evidence/         售后证据文件，保持收到时的原始字节
  inbox.jsonl       站内信
  wallet.jsonl      钱包流水（每行一笔，含变动后余额）
  wallet.csv        钱包流水（北京时间，可用表格软件打开）
  manifest.json     包内每个文件的 SHA-256 与大小；manifest.sig 为平台 Ed25519 签名，public_key.pem 为公钥

【如何校验】
  base64 -d manifest.sig > manifest.sig.bin
  openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in manifest.json -sigfile manifest.sig.bin
  再逐一计算文件的 SHA-256（sha256sum <文件>）与 manifest.json 比对。请妥善保管：卡密为明文。

[Contents]
  profile.json, orders.jsonl (each order with the page and refund rules agreed to), secrets.jsonl
  (delivered keys in clear: keep this file safe; this export is recorded as a reveal; items under a
  refund request are left out until it is decided), refunds.jsonl (timelines, messages, evidence
  index), evidence/ (files as received), inbox.jsonl, wallet.jsonl and wallet.csv (wallet history,
  Beijing time), manifest.json with manifest.sig and public_key.pem: verify as shown above.
"""


def _line(row) -> bytes:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder).encode("utf-8") + b"\n"


def _blocks(rows):
    """JSON lines, a few hundred to a block (one archive write per block, not per line)."""
    block = []
    for row in rows:
        block.append(_line(row))
        if len(block) >= LINES_PER_BLOCK:
            yield b"".join(block)
            block = []
    if block:
        yield b"".join(block)


def _chunks(queryset, size: int = CHUNK):
    """Primary keys of `queryset` in ascending chunks (keyset: each chunk one indexed query)."""
    after = 0
    while True:
        ids = list(queryset.filter(id__gt=after).order_by("id").values_list("id", flat=True)[:size])
        if not ids:
            return
        yield ids
        after = ids[-1]


def _label(choices, code) -> str:
    return str(dict(choices.choices).get(code, code))


class ExportPacker:
    def __init__(self, *, user, generated_at, ip_address, user_agent):
        self.user, self.generated_at = user, generated_at
        self.ip_address, self.user_agent = ip_address, user_agent
        self.packaged: list[dict] = []
        self.integrity: list[dict] = []
        self.counts = {"orders": 0, "secrets": 0, "secrets_withheld": 0, "refunds": 0, "evidence": 0, "inbox": 0,
                       "wallet_lines": 0}
        self.manifest = b""

    # ---- plumbing ----------------------------------------------------------------------------

    def _hashed(self, name: str, blocks):
        digest, size = hashlib.sha256(), 0
        for block in blocks:
            digest.update(block)
            size += len(block)
            yield block
        self.packaged.append({"name": name, "sha256": digest.hexdigest(), "size": size})

    def _late(self, make):
        yield make()

    # ---- records -----------------------------------------------------------------------------

    def _orders(self):
        """Rows as plain values, a chunk at a time: no model instances (an FSM order costs more to build than
        to write), and only the columns written."""
        orders = Order.objects.filter(buyer=self.user)
        for ids in _chunks(orders):
            items, payments, events, issues = {}, {}, {}, {}
            for issue in (KeyIssue.objects.filter(order_item__order_id__in=ids).order_by("id")
                          .values("order_item_id", "secret_id", "issued_at", "returned_at")):
                issues.setdefault(issue["order_item_id"], []).append(
                    {"key_ref": f"S{issue['secret_id']}", "issued_at": iso_beijing(issue["issued_at"]),
                     "returned_at": iso_beijing(issue["returned_at"])})
            for i in (OrderItem.objects.filter(order_id__in=ids).order_by("order_id", "position")
                      .values("id", "order_id", "position", "status", "delivered_at", "first_revealed_at")):
                items.setdefault(i["order_id"], []).append(
                    {"id": i["id"], "position": i["position"], "status": i["status"],
                     "delivered_at": iso_beijing(i["delivered_at"]),
                     "first_revealed_at": iso_beijing(i["first_revealed_at"]), "keys": issues.get(i["id"], [])})
            for p in (Payment.objects.filter(order_id__in=ids).order_by("id")
                      .values("order_id", "payment_no", "channel", "amount_fen", "status", "paid_at")):
                payments.setdefault(p["order_id"], []).append(
                    {"payment_no": p["payment_no"], "channel": p["channel"], "amount": fen_str(p["amount_fen"]),
                     "status": p["status"], "paid_at": iso_beijing(p["paid_at"])})
            for e in (OrderEvent.objects.filter(order_id__in=ids).order_by("id")
                      .values("order_id", "at", "actor", "event", "note")):
                events.setdefault(e["order_id"], []).append(
                    {"at": iso_beijing(e["at"]), "actor": e["actor"], "event": e["event"], "note": e["note"]})
            for order in Order.objects.filter(id__in=ids).order_by("id").values(*ORDER_COLUMNS):
                self.counts["orders"] += 1
                order["snapshot"] = snapshot_of(order["snapshot_version_id"], order["created_at"])
                yield {
                    "order_no": order["order_no"], "status": order["status"],
                    "status_label": _label(OrderStatus, order["status"]),
                    "product": order["snapshot"].get("name"), "quantity": order["quantity"],
                    "unit_price": fen_str(order["unit_price_fen"]), "amount": fen_str(order["amount_fen"]),
                    "refunded": fen_str(order["refunded_fen"]), "channel": order["channel"],
                    "recharge_account": order["recharge_account"] or None,
                    "created_at": iso_beijing(order["created_at"]), "paid_at": iso_beijing(order["paid_at"]),
                    "delivered_at": iso_beijing(order["delivered_at"]),
                    "terms_text": order["terms_text"], "terms_accepted_at": iso_beijing(order["terms_accepted_at"]),
                    "snapshot": order["snapshot"],
                    "items": items.get(order["id"], []),
                    "payments": payments.get(order["id"], []),
                    "events": events.get(order["id"], []),
                }

    def _secrets(self):
        """The live key of every delivered item, decrypted for its owner and recorded as a reveal.

        The same rule as revealing on the order page: the order is locked, and an item under a refund
        request is not revealed (its "never revealed" must stay true while the request is decided).
        """
        from kameng.orders.events import actor_label

        orders = Order.objects.filter(buyer=self.user, status__in=(OrderStatus.DELIVERED, OrderStatus.PAID,
                                                                    OrderStatus.PARTIALLY_REFUNDED))
        for ids in _chunks(orders):
            rows = []
            with transaction.atomic():
                # Only what is written (the whole order is in orders.jsonl already), and the FSM state: an FSM
                # model reads it when built, so leaving it out would cost one query per row.
                locked = locks.lock_all(Order.objects.filter(id__in=ids).only(
                    "id", "status", "order_no", "snapshot_version", "created_at"))
                orders = {order.id: order for order in locked}
                items = list(OrderItem.objects.filter(order_id__in=ids, status=ItemStatus.DELIVERED)
                             .only("id", "status", "order_id", "position").order_by("order_id", "position"))
                self.counts["secrets_withheld"] += OrderItem.objects.filter(
                    order_id__in=ids, status=ItemStatus.REFUND_PENDING, issues__returned_at__isnull=True).count()
                revealed = dict(inventory.secrets_reveal(user=self.user, items=items, ip_address=self.ip_address,
                                                         user_agent=self.user_agent))
                if revealed:
                    OrderItem.objects.filter(id__in=list(revealed), first_revealed_at__isnull=True).update(
                        first_revealed_at=self.generated_at)
                    shown = {item.order_id for item in items if item.id in revealed}
                    OrderEvent.objects.bulk_create([
                        OrderEvent(order=order, at=self.generated_at, actor=actor_label(self.user), event="revealed",
                                   note="exported with the buyer's records")
                        for order in locked if order.id in shown])
                for item in items:
                    if item.id in revealed:
                        order = orders[item.order_id]
                        rows.append({"order_no": order.order_no, "item_id": item.id, "position": item.position,
                                     "product": order.snapshot.get("name"), "secret": revealed[item.id]})
            self.counts["secrets"] += len(rows)
            yield from rows

    def _refunds(self):
        for ids in _chunks(Refund.objects.filter(buyer=self.user)):
            chunk = (Refund.objects.filter(id__in=ids).order_by("id").annotate(order_no=F("order__order_no"))
                     .prefetch_related("events", "messages", "evidence", "items"))
            for refund in chunk:
                self.counts["refunds"] += 1
                yield {
                    "refund_no": refund.refund_no, "order_no": refund.order_no,
                    "status": refund.status, "status_label": _label(RefundStatus, refund.status),
                    "reason": refund.reason, "reason_label": _label(Reason, refund.reason),
                    "description": refund.description, "destination": refund.destination,
                    "amount": fen_str(refund.amount_fen), "fee": fen_str(refund.fee_fen),
                    "refund_amount": fen_str(refund.refund_amount_fen),
                    "item_ids": sorted(i.order_item_id for i in refund.items.all()),
                    "submitted_at": iso_beijing(refund.submitted_at), "sla_due_at": iso_beijing(refund.sla_due_at),
                    "decided_at": iso_beijing(refund.decided_at), "decision_note": refund.decision_note,
                    "reject_reason_code": refund.reject_reason_code or None,
                    "appealed_at": iso_beijing(refund.appealed_at), "appeal_description": refund.appeal_description,
                    "refunded_at": iso_beijing(refund.refunded_at),
                    "timeline": [{"at": iso_beijing(e.at), "actor": e.actor, "event": e.event, "note": e.note}
                                 for e in sorted(refund.events.all(), key=lambda e: e.id)],
                    "messages": [{"at": iso_beijing(m.at), "author_role": m.author_role, "kind": m.kind, "body": m.body}
                                 for m in sorted(refund.messages.all(), key=lambda m: m.id)],
                    "evidence": [{"id": e.id, "file": _evidence_name(refund.refund_no, e), "source": e.source,
                                  "kind": e.kind, "content_type": e.content_type, "original_name": e.original_name,
                                  "size": e.size, "sha256": e.sha256, "received_at": iso_beijing(e.received_at)}
                                 for e in sorted(refund.evidence.all(), key=lambda e: e.id)],
                }

    def _inbox(self):
        language = language_of(self.user)  # as the buyer reads them (GET /inbox): in their own language
        for ids in _chunks(InboxMessage.objects.filter(user=self.user)):
            for message in (InboxMessage.objects.filter(id__in=ids).order_by("id")
                            .annotate(refund_no=F("refund__refund_no"))):
                self.counts["inbox"] += 1
                title, body, _rendered = message_text(message, language)
                yield {"title": title, "body": body, "code": message.code, "params": message.params,
                       "created_at": iso_beijing(message.created_at),
                       "read_at": iso_beijing(message.read_at), "refund_no": message.refund_no}

    def _wallet(self):
        for line in wallet_lines_all(user=self.user):
            self.counts["wallet_lines"] += 1
            yield {"at": iso_beijing(line.at), "label": line.label, "amount": line.amount,
                   "balance_after": line.balance_after, "order_no": line.order_no, "refund_no": line.refund_no}

    def _wallet_csv(self):
        """For a person: Beijing time as the pages show it, labels, signed amounts with ¥."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["时间（北京时间）", "类型", "金额", "变动后余额", "订单号", "退款单号"])
        yield ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM makes spreadsheet programs read UTF-8
        for line in wallet_lines_all(user=self.user):
            out.seek(0)
            out.truncate()
            writer.writerow([for_person(line.at), line.label, line.amount_display, f"¥{line.balance_after}",
                             line.order_no or "", line.refund_no or ""])
            yield out.getvalue().encode("utf-8")

    def _evidence_blocks(self, item: Evidence):
        record = {"id": item.id, "sha256_at_receipt": item.sha256, "size_at_receipt": item.size}
        self.integrity.append(record)
        digest, size = hashlib.sha256(), 0
        try:
            with open(evidence_path(item), "rb") as handle:
                for block in iter(lambda: handle.read(FILE_BLOCK), b""):
                    digest.update(block)
                    size += len(block)
                    yield block
        except (FileNotFoundError, RuntimeError):
            record["missing"] = True
        record.update(sha256_now=digest.hexdigest(), size_now=size,
                      intact=digest.hexdigest() == item.sha256 and size == item.size)

    def _profile(self) -> dict:
        user = self.user
        return {"id": user.id, "username": user.username, "phone": user.phone or None, "role": user.role,
                "joined_at": iso_beijing(user.date_joined), "last_login": iso_beijing(user.last_login)}

    def _make_manifest(self) -> bytes:
        self.manifest = _json_bytes({
            "kind": "buyer_export",
            "buyer": self.user.username,
            "generated_at": iso_beijing(self.generated_at),
            "algorithm": signing.ALGORITHM,
            "signature_file": SIGNATURE,
            "public_key_file": PUBLIC_KEY,
            "counts": self.counts,
            "files": self.packaged,
            "evidence_intact": all(entry.get("intact") for entry in self.integrity),
            "evidence_integrity": self.integrity,
        })
        return self.manifest

    def stream(self):
        archive = ZipStream(compress_type=ZIP_DEFLATED)
        small = {
            README: README_TEXT.format(username=self.user.username,
                                       generated_at=for_person(self.generated_at)).encode("utf-8"),
            "profile.json": _json_bytes(self._profile()),
            PUBLIC_KEY: signing.public_key_pem().encode("ascii"),
        }
        for name, data in small.items():
            archive.add(self._hashed(name, [data]), name)
        for name, rows in (("orders.jsonl", self._orders()), ("secrets.jsonl", self._secrets()),
                           ("refunds.jsonl", self._refunds()), ("inbox.jsonl", self._inbox()),
                           ("wallet.jsonl", self._wallet())):
            archive.add(self._hashed(name, _blocks(rows)), name)
        archive.add(self._hashed("wallet.csv", self._wallet_csv()), "wallet.csv")
        # Evidence: a small list of references (id, path) up front; each file is read when the archive reaches it.
        evidence = Evidence.objects.filter(refund__buyer=self.user).select_related("refund").order_by("id")
        for ids in _chunks(evidence):
            for item in evidence.filter(id__in=ids):
                self.counts["evidence"] += 1
                name = _evidence_name(item.refund.refund_no, item)
                # Stored, not deflated: pictures, video and PDF are compressed already.
                archive.add(self._hashed(name, self._evidence_blocks(item)), name, compress_type=ZIP_STORED)
        archive.add(self._late(self._make_manifest), MANIFEST)
        archive.add(self._late(lambda: signing.sign(self.manifest).encode("ascii")), SIGNATURE)
        yield from archive


def _evidence_name(refund_no: str, item) -> str:
    ext = item.storage_path.rsplit(".", 1)[-1]
    return f"evidence/{refund_no}/{item.id}_{item.sha256[:16]}.{ext}"
