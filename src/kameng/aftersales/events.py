from kameng.core import clock
from kameng.notifications.services import notify

from . import figure_facts
from .models import RefundEvent


def actor_label(user) -> str:
    return f"{user.role}:{user.username}" if user is not None else "system"


def refund_event(*, refund, event: str, actor: str = "system", note: str = "") -> None:
    at = clock.now()
    RefundEvent.objects.create(refund=refund, at=at, actor=actor, event=event, note=note)
    # The published figures' row moves with the timeline, in the same transaction.
    figure_facts.event_recorded(refund=refund, event=event, actor=actor, at=at)


STATUS_TITLES = {
    "submitted": "退款申请已提交",
    "awaiting_buyer": "审核员请您补充材料",
    "approved": "退款申请已通过",
    "refunding": "退款处理中",
    "refunded": "退款已到账",
    "rejected": "退款申请被驳回",
    "appealed": "申诉已提交",
    "rejected_final": "申诉被驳回（最终决定）",
    "withdrawn": "退款申请已撤回",
    "closed": "退款申请已关闭",
}


# Where money goes back, as a person reads it (never the channel's code).
CHANNEL_LABELS = {"alipay": "支付宝", "wechat": "微信支付", "bank": "银行卡", "wallet": "钱包余额"}


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, "原支付渠道")


def tell_buyer(refund, body: str, *, sms: bool = False) -> None:
    notify(user=refund.buyer, title=f"{STATUS_TITLES.get(refund.status, '退款进度更新')}（{refund.refund_no}）",
           body=body, refund=refund, sms=sms)


def tell_staff(refund, users, title: str, body: str) -> None:
    """站内信 to the reviewers who must act next."""
    for user in users:
        notify(user=user, title=f"{title}（{refund.refund_no}）", body=body, refund=refund)


def senior_reviewers(*, excluding_id: int | None = None):
    from kameng.accounts.models import Role, User

    return User.objects.filter(role=Role.SENIOR_REVIEWER, is_active=True).exclude(id=excluding_id)
