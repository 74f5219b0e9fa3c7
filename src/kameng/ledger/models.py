from django.db import models
from django.utils.translation import gettext_lazy as _


class AccountKind(models.TextChoices):
    ASSET = "asset"
    LIABILITY = "liability"
    INCOME = "income"
    EXPENSE = "expense"


class LedgerAccount(models.Model):
    """An account of the book. Its balance is the sum of its postings.

    A wallet also keeps that sum as it goes (`running_fen`, changed in the same transaction as each of
    its postings), so a purchase reads its balance in O(1) under the wallet's lock instead of summing
    the buyer's whole history; `kameng check-ledger` proves the two agree. Shared accounts (escrow,
    commission, clearing) keep none: one row updated by every purchase would make purchases queue.
    """

    code = models.CharField(max_length=64, unique=True)  # "wallet:12", "payable:3", "clearing:alipay"
    kind = models.CharField(max_length=10, choices=AccountKind.choices)
    owner = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT)
    running_fen = models.BigIntegerField(null=True, blank=True)  # sum of postings, kept for wallets only

    def __str__(self) -> str:
        return self.code


class Journal(models.Model):
    """One money movement. Its postings sum to zero; `reference` makes it happen at most once."""

    reference = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=30)
    at = models.DateTimeField()
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="journals")
    payment = models.ForeignKey("payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="journals")
    memo = models.CharField(max_length=200, blank=True, default="")


class Posting(models.Model):
    """A debit (positive fen) or credit (negative fen) on one account."""

    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="postings")
    amount_fen = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=~models.Q(amount_fen=0), name="posting_not_zero")]


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", _("待审核")
    PAID = "paid", _("已打款")
    REJECTED = "rejected", _("已驳回")


class Withdrawal(models.Model):
    """A supplier's request to take money out of its `available` balance; finance pays it or turns it down.

    The amount leaves `available` when requested (journal `withdrawal:<id>`), so two requests can never
    both spend the same yuan; paying it (`withdrawal-paid:<id>`) or rejecting it (`withdrawal-rejected:<id>`)
    each happen once, under the row's lock.
    """

    supplier = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="withdrawals")
    amount_fen = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=WithdrawalStatus.choices, default=WithdrawalStatus.REQUESTED)
    requested_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="withdrawals_decided")
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="withdrawal_positive")]
        indexes = [models.Index(fields=["status", "id"]), models.Index(fields=["supplier", "id"])]

    @property
    def amount(self) -> str:
        return f"{self.amount_fen // 100}.{self.amount_fen % 100:02d}"


class SupplierTerms(models.Model):
    """What the platform charges one supplier: its commission rate (none: the setting KAMENG_COMMISSION_RATE).

    Read once per purchase and copied onto the order (`Order.commission_rate`), so a change here applies to
    new orders only; every change is kept in CommissionRateChange.
    """

    supplier = models.OneToOneField("accounts.User", primary_key=True, on_delete=models.PROTECT,
                                    related_name="supplier_terms")
    commission_rate = models.DecimalField(max_digits=5, decimal_places=4)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(commission_rate__gte=0, commission_rate__lt=1),
                                              name="supplier_commission_rate_range")]


class CommissionRateChange(models.Model):
    """Who set which supplier's commission rate, from what, when (append-only)."""

    supplier = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    previous_rate = models.DecimalField(max_digits=5, decimal_places=4)
    commission_rate = models.DecimalField(max_digits=5, decimal_places=4)
    at = models.DateTimeField()
    by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["supplier", "-id"], name="commission_change_idx")]
