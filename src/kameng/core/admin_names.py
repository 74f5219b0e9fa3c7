"""The Chinese names the Django admin shows: apps, models and fields ("导入批次", not "Import batchs").

Why here and not in each model's Meta: a verbose name is only what a person reads, and writing it into
twenty models would add a migration to every app (Django records verbose names in migrations) while five
people change those apps at once. So the names are given once, when the apps are ready
(CoreConfig.ready), from one glossary: a field named `created_at` is 创建时间 in every model, a `*_fen`
field is its amount "（分）" (the admin shows it as yuan, see `kameng.core.admin_money`). A name a model
sets itself wins: only names Django made up from the code are replaced. English comes from django.po.
"""

from django.apps import apps
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop as N_
from django.utils.translation import pgettext_lazy

APPS = {
    "accounts": _("账户与用户"), "catalog": _("商品与货源"), "inventory": _("库存卡密"), "orders": _("订单"),
    "payments": _("支付与对账"), "ledger": _("账本"), "aftersales": _("售后"), "notifications": _("通知"),
    "records": _("买家数据导出"), "web": _("网站"), "axes": _("登录保护"), "django_tasks_database": _("后台任务"),
}

# "app_label.ModelName": its name. Chinese has no plural: the list page uses the same word (English's plural is
# the msgctxt "plural" entry of django.po).
MODELS = {
    "catalog.Product": N_("商品"), "catalog.SupplierNotification": N_("货源回调记录"),
    "inventory.CardSecret": N_("卡密"), "inventory.ImportBatch": N_("导入批次"), "inventory.BatchEvent": N_("批次事件"),
    "inventory.KeyIssue": N_("卡密发放记录"), "inventory.RevealRecord": N_("卡密查看记录"),
    "orders.Order": N_("订单"), "orders.OrderItem": N_("订单商品"), "orders.OrderEvent": N_("订单事件"),
    "orders.TopupDispatch": N_("直充提交"),
    "payments.Payment": N_("支付"), "payments.PaymentNotification": N_("支付通知"),
    "payments.ReconciliationRun": N_("对账记录"), "payments.ReconciliationLine": N_("对账差异"),
    "ledger.Journal": N_("会计凭证"), "ledger.LedgerAccount": N_("账户"), "ledger.Posting": N_("分录"),
    "ledger.Withdrawal": N_("提现"),
    "aftersales.Refund": N_("售后申请"), "aftersales.RefundEvent": N_("售后事件"), "aftersales.RefundPayout": N_("退款支付"),
    "aftersales.Evidence": N_("证据"),
    "django_tasks_database.DBTaskResult": N_("后台任务"),
    "axes.AccessAttempt": N_("登录失败记录"), "axes.AccessLog": N_("登录记录"), "axes.AccessFailureLog": N_("登录失败日志"),
}

# Field names, the same word wherever the field appears. `*_fen` fields are named by their stem below.
FIELDS = {
    "id": _("编号"), "name": _("名称"), "description": _("描述"), "kind": _("类型"), "status": _("状态"),
    "created_at": _("创建时间"), "updated_at": _("更新时间"), "started_at": _("开始时间"), "finished_at": _("结束时间"),
    "at": _("时间"), "actor": _("操作人"), "event": _("事件"), "note": _("备注"), "error": _("错误"),
    "supplier": _("供货商"), "buyer": _("买家"), "user": _("用户"), "owner": _("所有人"), "payer": _("付款人"),
    "product": _("商品"), "order": _("订单"), "order_no": _("订单号"), "order_item": _("订单商品"),
    "refund": _("售后申请"), "refund_no": _("售后单号"), "payment": _("支付"), "payment_no": _("支付单号"),
    "batch": _("导入批次"), "secret": _("卡密"), "source": _("来源"), "channel": _("支付渠道"),
    "gateway": _("支付网关"), "trade_no": _("网关交易号"), "quantity": _("数量"), "reason": _("原因"),
    "fields": _("原始字段"), "outcome": _("处理结果"), "received_at": _("收到时间"), "source_ref": _("货源单号"),
    "nonce": _("随机串"), "nonce_spent": _("随机串已用"), "refund_policy": _("退款规则"), "is_manual": _("人工发货"),
    "is_active": _("在售"), "delivery_promise_minutes": _("承诺发货时间（分钟）"), "source_sku": _("货源商品编码"),
    "ciphertext": _("密文"), "fingerprint": _("指纹"), "reserved_order": _("预留给订单"),
    "imported_by": _("导入人"), "total_lines": _("总行数"), "processed": _("已处理"), "imported": _("已导入"),
    "duplicates": _("重复"), "rejected": _("无效"), "quarantine": _("隔离状态"), "quarantined_at": _("隔离时间"),
    "quarantine_defects": _("隔离时问题数"), "quarantine_sold": _("隔离时已售"), "quarantine_frozen": _("冻结数"),
    "forgiven_defects": _("已豁免问题数"), "quarantine_decided_by": _("隔离处理人"),
    "quarantine_decided_at": _("隔离处理时间"), "quarantine_note": _("隔离处理说明"),
    "issued_at": _("发放时间"), "returned_at": _("退回时间"), "revealed_at": _("查看时间"), "ip_address": _("IP 地址"),
    "user_agent": _("浏览器"), "recharge_account": _("充值账号"), "snapshot": _("下单时快照"), "terms_text": _("购买须知"),
    "terms_accepted_at": _("同意须知时间"), "expires_at": _("过期时间"), "paid_at": _("付款时间"),
    "delivered_at": _("发货时间"), "account": _("账号"), "upstream_ref": _("上游单号"), "attempts": _("尝试次数"),
    "dispatched_at": _("提交时间"), "failure_reason": _("失败原因"), "purpose": _("用途"), "pay_url": _("支付链接"),
    "code_url": _("二维码内容"), "checked_at": _("查询时间"), "day": _("账单日期"), "file_name": _("文件名"),
    "statement_lines": _("账单笔数"), "matched": _("相符"), "missing_here": _("平台缺记录"),
    "missing_there": _("网关无记录"), "amount_differs": _("金额不符"), "repaired": _("已自动补记"),
    "reference": _("凭证编号"), "memo": _("摘要"), "code": _("账户代码"), "journal": _("会计凭证"),
    "fee_rate": _("手续费率"), "needs_evidence": _("需要证据"), "evidence_due_at": _("证据截止时间"),
    "opened_at": _("开始审核时间"), "liable": _("责任方"), "submitted_at": _("提交时间"), "sla_due_at": _("审核截止时间"),
    "sla_paused_at": _("审核暂停时间"), "info_due_at": _("补充材料截止时间"), "escalated": _("已升级"),
    "urged_at": _("催办时间"), "decided_at": _("处理时间"), "first_decided_by": _("初审人"),
    "final_decided_by": _("终审人"), "reject_reason_code": _("驳回原因"), "decision_note": _("处理说明"),
    "appeal_due_at": _("申诉截止时间"), "appeal_description": _("申诉内容"), "appealed_at": _("申诉时间"),
    "expected_arrival_by": _("预计到账时间"), "refunded_at": _("退款时间"), "closed_reason": _("关闭原因"),
    "supplier_due_at": _("供货商答复截止时间"), "supplier_answer": _("供货商答复"), "supplier_note": _("供货商说明"),
    "supplier_answered_at": _("供货商答复时间"), "destination": _("退款去向"), "request_no": _("退款请求号"),
    "gateway_ref": _("网关退款号"), "sent_at": _("提交网关时间"), "completed_at": _("到账时间"),
    "failure_code": _("失败代码"), "failure_message": _("失败说明"), "failed_at": _("失败时间"),
    "failed_request_no": _("失败的请求号"), "retry_destination": _("重新支付去向"), "retried_at": _("重新支付时间"),
    "requested_at": _("申请时间"), "decided_by": _("处理人"), "role": _("角色"), "phone": _("手机号"),
    "refund_destination": _("平台退款默认去向"), "date": _("日期"),
    # django-tasks and django-axes
    "enqueued_at": _("入队时间"), "args_kwargs": _("参数"), "priority": _("优先级"), "task_path": _("任务"),
    "worker_ids": _("执行进程"), "queue_name": _("队列"), "backend_name": _("后端"), "run_after": _("最早执行时间"),
    "return_value": _("返回值"), "exception_class_path": _("异常类型"), "traceback": _("异常堆栈"),
    "username": _("用户名"), "http_accept": _("HTTP Accept"), "path_info": _("路径"), "attempt_time": _("时间"),
    "get_data": _("GET 参数"), "post_data": _("POST 参数"), "failures_since_start": _("失败次数"),
    "logout_time": _("退出时间"), "session_hash": _("会话摘要"), "locked_out": _("已锁定"),
}

# The stems of `*_fen` fields: amount_fen is 金额（分）; the admin shows it as 金额（元）.
MONEY = {
    "amount": _("金额"), "price": _("售价"), "face_value": _("面值"), "unit_price": _("单价"), "refunded": _("已退金额"),
    "fee": _("手续费"), "refund_amount": _("退款金额"), "running": _("记录余额"),
}


def money_stem(field_name: str):
    """The words for a `*_fen` field without the unit (金额), or None when it is not one."""
    if not field_name.endswith("_fen"):
        return None
    stem = field_name[: -len("_fen")]
    return MONEY.get(stem, FIELDS.get(stem))


def name_everything() -> None:
    """Give every app, model and field the admin shows a Chinese name, unless it chose one itself."""
    for label, name in APPS.items():
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        if not config.name.startswith("kameng.") or not _chose(config.verbose_name, config.label):
            config.verbose_name = name
    for model in apps.get_models():
        meta = model._meta
        # A library's own names are English (django-axes: "access attempt"): ours replace them all.
        ours = model.__module__.startswith("kameng.")
        name = MODELS.get(f"{meta.app_label}.{model.__name__}")
        if name is not None and not (ours and "verbose_name" in meta.original_attrs):
            meta.verbose_name = _(name)
            # The same words in Chinese; English has a plural, told apart by its context ("Import batches").
            meta.verbose_name_plural = pgettext_lazy("plural", name)
        for field in meta.get_fields():
            if not (field.concrete or field.many_to_many):
                continue
            if ours and getattr(field, "_verbose_name", None) is not None:
                continue
            stem = money_stem(field.name)
            words = format_lazy("{}{}", stem, _("（分）")) if stem is not None else FIELDS.get(field.name)
            if words is not None:
                field.verbose_name = words


def _chose(verbose_name, label: str) -> bool:
    """An app chose its name when it is not Django's default (its label, title-cased)."""
    return str(verbose_name) != label.replace("_", " ").title()


# Columns libraries' admins compute (no field to name): "app_label.ModelName" → {attribute: words}.
COLUMNS = {
    "django_tasks_database.DBTaskResult": {"task_name": _("任务")},
    "axes.AccessAttempt": {"status": _("状态")},
}


def name_library_columns(site) -> None:
    """After the admins are registered (kameng.core.admin): name the columns libraries compute themselves."""
    for model, model_admin in site._registry.items():
        for attribute, words in COLUMNS.get(model._meta.label, {}).items():
            found = getattr(model_admin, attribute, None) or getattr(model, attribute, None)
            target = found.fget if isinstance(found, property) else getattr(found, "__func__", found)
            if target is not None:
                target.short_description = words
