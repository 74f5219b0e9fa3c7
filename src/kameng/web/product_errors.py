"""A refusal of the catalogue's checks, said at the form field it concerns (the service names it in
`details["field"]`), in words a supplier acts on: the bounds, an example. One set of rules, the service's."""

from django.utils.translation import gettext

from kameng.core.errors import DomainError

from .errors import error_text


def _field_text(exc: DomainError, field: str) -> str:
    details = exc.details or {}
    if exc.code == "INVALID_AMOUNT" and field == "price":
        return gettext("售价须大于 0 元，最多两位小数，例如 9.80。")
    if exc.code == "INVALID_AMOUNT" and field == "face_value":
        return gettext("面值不能为负数，最多两位小数，例如 10.00。")
    if exc.code == "INVALID_REFUND_POLICY" and field.endswith("_rate"):
        return gettext("须为 %(min)s 到 %(max)s 之间的比例，最多两位小数，例如 0.05（即 5%%）。") % {
            "min": details.get("min", "0.00"), "max": details.get("max", "")}
    if exc.code == "INVALID_REFUND_POLICY" and "min" in details:
        return gettext("须为 %(min)s 到 %(max)s 之间的整数。") % {"min": details["min"], "max": details["max"]}
    if exc.code == "INVALID_DELIVERY_PROMISE":
        return gettext("承诺发货时间须为 0 到 10080 分钟（7 天）之间的整数。")
    return error_text(exc)


def add_domain_error(form, exc: DomainError) -> None:
    """Put the service's refusal on the field it names, or above the form."""
    field = (exc.details or {}).get("field") if isinstance(exc.details, dict) else None
    if field in form.fields:
        form.add_error(field, _field_text(exc, field))
    else:
        form.add_error(None, error_text(exc))
