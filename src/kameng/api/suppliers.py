"""The goods sources' result callbacks (KSP/1, docs/supplier-protocol.md). Thin: read the bytes, hand over."""

from django.core.exceptions import RequestDataTooBig
from ninja import Schema

from kameng.catalog import supply

from .base import answers, api


class SupplierAnswerOut(Schema):
    """KSP/1's answer: `code` "0000" once processed; a refusal also carries the usual `error` body."""

    code: str
    message: str


@api.post("/suppliers/notify/{source_id}", auth=None, tags=["suppliers"],
          response=answers({200: SupplierAnswerOut}, 401, 404, 409, 413, 422, auth=False))
def supplier_notify(request, source_id: str):
    """A source's signed result for an order placed there. Answers `{"code":"0000"}` once processed."""
    try:
        body = request.body
    except RequestDataTooBig:
        supply.callback_too_large(source_ref=source_id)
        status, answer = supply.answer("PAYLOAD_TOO_LARGE")
    else:
        status, answer = supply.callback_receive(source_ref=source_id, headers=request.headers, body=body)
    return api.create_response(request, answer, status=status)
