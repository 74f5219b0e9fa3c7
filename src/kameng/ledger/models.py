from django.db import models


class AccountKind(models.TextChoices):
    ASSET = "asset"
    LIABILITY = "liability"
    INCOME = "income"
    EXPENSE = "expense"


class LedgerAccount(models.Model):
    """An account of the book. Its balance is always derived from its postings."""

    code = models.CharField(max_length=64, unique=True)  # "wallet:12", "payable:3", "clearing:alipay"
    kind = models.CharField(max_length=10, choices=AccountKind.choices)
    owner = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT)

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
