from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    BUYER = "buyer", _("买家")
    SUPPLIER = "supplier", _("供货商")
    REVIEWER = "reviewer", _("审核员")
    SENIOR_REVIEWER = "senior_reviewer", _("高级审核员")
    FINANCE = "finance", _("财务")
    ADMIN = "admin", _("管理员")


class RefundDestination(models.TextChoices):
    """Where money the platform gives back goes when nobody asks the buyer (its own refunds)."""

    ORIGINAL = "original", _("原路退回")
    WALLET = "wallet", _("退回钱包")


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.BUYER)
    phone = models.CharField(max_length=20, blank=True, default="")
    # The buyer's standing choice: the destination of refunds the platform makes without asking.
    refund_destination = models.CharField(max_length=10, choices=RefundDestination.choices,
                                          default=RefundDestination.ORIGINAL)
    # The language the platform writes to this person in: 站内信 are rendered in it when read through the
    # API, SMS and e-mail when they are written. Pages follow the language the reader picked for the page.
    language = models.CharField(max_length=10, choices=[("zh-hans", "简体中文"), ("en", "English")],
                                default="zh-hans")

    @property
    def is_buyer(self) -> bool:
        return self.role == Role.BUYER


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored: a database leak gives no usable token.

    `password_stamp` ties the token to the password it was issued under (a keyed hash of the password
    hash, as Django does for sessions): whoever changes the password, by any path, ends every token.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    password_stamp = models.CharField(max_length=64, default="")
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True)
