"""The real gateways' endpoints (contract "Real payment gateways"): notifications and the channel list.

The notify endpoints answer in each gateway's own protocol (Alipay: plain text `success`/`fail`;
WeChat Pay: 204, or 4xx with `{"code":"FAIL","message"}`), declared as such in the OpenAPI document.
"""

from django.http import HttpResponse
from ninja import Schema

from kameng.payments.checkout import channels
from kameng.payments.gateway_notify import gateway_notification_receive

from .base import answers, api


class ChannelOut(Schema):
    channel: str
    available: bool


def _text(*values: str) -> dict:
    return {"text/plain": {"schema": {"type": "string", "enum": list(values)}}}


ALIPAY_ANSWERS = {"responses": {
    200: {"description": "processed (again for a repeat): Alipay stops sending", "content": _text("success")},
    400: {"description": "refused: Alipay sends it again later", "content": _text("fail")},
}}
WECHAT_ANSWERS = {"responses": {
    204: {"description": "processed (again for a repeat): WeChat Pay stops sending"},
}}


def _answer(answer) -> HttpResponse:
    return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)


@api.get("/payment-channels", auth=None, tags=["payments"], response=answers({200: list[ChannelOut]}, auth=False))
def payment_channels(request):
    """Every channel and whether it is offered here: a gateway channel only when it is configured."""
    return channels()


@api.post("/payments/notify/alipay", auth=None, tags=["payments"], response=answers({}, 404, 413, auth=False),
          openapi_extra=ALIPAY_ANSWERS)
def notify_alipay(request):
    """Alipay's asynchronous notification (form, RSA2). Answers the plain text `success` once processed."""
    return _answer(gateway_notification_receive(name="alipay", headers=request.headers, body=request.body))


@api.post("/payments/notify/wechat", auth=None, tags=["payments"], response=answers({}, 401, 404, 413, auth=False),
          openapi_extra=WECHAT_ANSWERS)
def notify_wechat(request):
    """WeChat Pay v3 notification (signed headers, encrypted resource). 204 once processed; 401 if unsigned or stale."""
    return _answer(gateway_notification_receive(name="wechat", headers=request.headers, body=request.body))


def with_checkout(request, status: int, response: dict, *, payment_key: str = "payment") -> dict:
    """Open the checkout of a payment just created (after its transaction committed) and answer with it.

    Also for a replayed Idempotency-Key: the URL kept on the payment is answered again, and one that
    could not be opened the first time is tried again.
    """
    from kameng.payments.checkout import checkout_open, device_for
    from kameng.payments.models import Payment

    from .base import client_ip

    block = response.get(payment_key) if payment_key else response
    if status != 201 or not isinstance(block, dict) or not block.get("payment_no") or block.get("channel") == "wallet":
        return response  # a wallet payment has no checkout: no query to find that out
    payment = getattr(request, "created_payment", None)  # this request made it: no need to read it back
    if payment is None or payment.payment_no != block["payment_no"]:  # a replayed answer: read it
        payment = Payment.objects.select_related("order").filter(payment_no=block["payment_no"]).first()
    if payment is None or payment.channel == "wallet":
        return response
    if not (payment.pay_url or payment.code_url):
        payment = checkout_open(payment=payment, client_ip=client_ip(request) or "",
                                device=device_for(user_agent=request.headers.get("User-Agent", ""),
                                                  asked=request.GET.get("device")))
    block.update(checkout_fields(payment))
    return response


def checkout_fields(payment) -> dict:
    from .serializers import iso

    fields = {"expires_at": iso(payment.expires_at)}
    if payment.pay_url:
        fields["pay_url"] = payment.pay_url
    if payment.code_url:
        fields["code_url"] = payment.code_url
    return fields
