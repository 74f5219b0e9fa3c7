"""Domain errors shown on pages: a translated sentence for the codes a page user meets, else the
service's own message. Services never put a secret in a message, so neither do we."""

from django.http import Http404
from django.utils.translation import gettext as _

from kameng.core.errors import DomainError, NotFound


def _texts() -> dict[str, str]:
    return {
        "TERMS_NOT_ACCEPTED": _("请先勾选确认：数字商品不适用七日无理由退货。"),
        "OUT_OF_STOCK": _("库存不足，请减少数量。"),
        "INSUFFICIENT_BALANCE": _("钱包余额不足。"),
        "INVALID_QUANTITY": _("数量无效。"),
        "INVALID_CHANNEL": _("请选择有效的支付方式。"),
        "INVALID_RECHARGE_ACCOUNT": _("直充商品需要填写充值账号。"),
        "INVALID_AMOUNT": _("金额无效。"),
        "NOT_DELIVERED": _("订单尚未发货，暂无可查看的卡密。"),
        "NOTHING_TO_REVEAL": _("该订单没有可查看的卡密（直充商品无卡密）。"),
        "ALREADY_PROCESSED": _("该支付已处理。"),
        "INVALID_KEYS": _("发货内容无效：每件商品填写一条，不能为空。"),
        "DUPLICATE_KEY": _("该内容已在平台发放或入库，不能重复使用。"),
        "ORDER_NOT_AWAITING_DELIVERY": _("该订单当前不在待发货状态。"),
        "PRODUCT_NOT_STOCKED": _("只有卡密和兑换链接类（非人工发货）商品可以导入库存。"),
        "ROLE_FORBIDDEN": _("当前账号角色无权进行此操作。"),
    }


def error_text(exc: DomainError) -> str:
    return _texts().get(exc.code) or exc.message


def not_found_as_404(exc: DomainError) -> None:
    """A missing object or someone else's: the page is a 404, like the API."""
    if isinstance(exc, NotFound) or exc.status == 404:
        raise Http404(exc.message)
