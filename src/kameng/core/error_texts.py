"""What each error code says to a person, in Chinese (the default) and English.

Services raise errors with a code and a specific English message; the API and the pages answer in
the request's language with the sentence here, and keep the service's specific text as `detail`.
Codes whose service message is already specific and bilingual (eligibility, vague descriptions)
are not listed: their own message is shown.
"""

import re

from django.utils import translation

TEXTS: dict[str, tuple[str, str]] = {
    "ALREADY_PROCESSED": ("该支付已处理，本次未做任何更改。", "This payment or refund was already processed; nothing changed."),
    "ALREADY_URGED": ("已经催办过，申请已升级给高级审核员。", "Already urged: the refund is with a senior reviewer."),
    "AMOUNT_MISMATCH": ("通知金额与支付金额不符，已拒绝。", "The notified amount differs from the payment's; refused."),
    "APPEAL_NOT_ALLOWED": ("只有被驳回的申请可以申诉。", "Only a rejected refund can be appealed."),
    "APPEAL_WINDOW_CLOSED": ("申诉期限已过。", "The appeal window has closed."),
    "BAD_REQUEST": ("请求无效。", "The request is not valid."),
    "BAD_SIGNATURE": ("签名校验失败，已拒绝。", "The signature does not verify; refused."),
    "CARDS_UNUSABLE": ("货源返回的卡密无法使用（数量不符、格式错误或重复），未发货。", "The source's card keys cannot be used (wrong count, malformed or duplicate); nothing delivered."),
    "CLAIM_ALREADY_DECIDED": ("该售后申请已有决定或您已答复过，不能再次答复。", "This claim was already decided or answered."),
    "CONTEST_NOTE_REQUIRED": ("提出异议时请说明理由（将提供给审核员）。", "Say why you contest the claim; the reviewer will see it."),
    "DATABASE_BUSY": ("系统繁忙，本次未做任何更改，请稍后重试。", "The system is busy; nothing changed. Try again in a moment."),
    "DESCRIPTION_TOO_LONG": ("描述最多 4000 字。", "A description is at most 4000 characters."),
    "DUPLICATE_EVIDENCE": ("这个文件已经上传过了（同一申请中内容完全相同），无需重复上传。",
                           "This file is already on record for this refund (identical content); no need to send it again."),
    "DUPLICATE_KEY": ("该内容已在平台发放或入库，不能重复使用。", "This content was already stocked or delivered on the platform."),
    "EMPTY_FILE": ("文件是空的。", "The file is empty."),
    "FILE_TOO_LARGE": ("文件过大：图片最大 10 MB，PDF 最大 20 MB，视频最大 50 MB。", "File too large: images 10 MB, PDF 20 MB, video 50 MB at most."),
    "FORBIDDEN": ("无权进行此操作。", "You may not do this."),
    "IDEMPOTENCY_KEY_REUSED": ("该 Idempotency-Key 已用于另一个请求。", "This Idempotency-Key was used with a different request."),
    "IMPORT_NOT_FOUND": ("导入记录不存在。", "No such import."),
    "BATCH_NOT_FOUND": ("卡密批次不存在。", "No such batch of keys."),
    "BATCH_NOT_QUARANTINED": ("该批次当前未处于隔离状态（可能已被其他管理员处理），未做任何更改。",
                              "The batch is not quarantined (another admin may have decided it); nothing changed."),
    "INVALID_STATE_FILTER": ("批次状态筛选无效。", "Filter by one of the batch states."),
    "INSUFFICIENT_BALANCE": ("钱包余额不足。", "The wallet balance is too low."),
    "INTERNAL_ERROR": ("系统暂时无法处理，请稍后重试。", "The system could not process this now; retry later."),
    "INVALID_AMOUNT": ("金额无效：须为两位小数的字符串；退款金额须大于 0，且退款金额加手续费不超过申请金额。", "Invalid amount: a decimal string; a refund above 0, and refund plus fee at most the amount asked."),
    "INVALID_CHANNEL": ("请选择有效的支付方式。", "Choose a valid payment channel."),
    "CHANNEL_UNAVAILABLE": ("该支付方式暂未开通，请选择其他支付方式。", "This payment channel is not available here; choose another."),
    "SANDBOX_OFF": ("沙箱未开启，沙箱通知不会改变任何款项。", "The sandbox is off: its notifications move no money."),
    "INVALID_CREDENTIALS": ("用户名或密码错误。", "Wrong username or password."),
    "INVALID_CURSOR": ("翻页位置无效。", "That paging cursor is not in this queue."),
    "INVALID_DELIVERY_PROMISE": ("承诺发货时间无效。", "The promised delivery time is not valid."),
    "INVALID_DESTINATION": ("请选择退款去向。", "Choose where the refund goes."),
    "INVALID_IDEMPOTENCY_KEY": ("Idempotency-Key 无效。", "The Idempotency-Key is not valid."),
    "INVALID_ITEM_IDS": ("商品编号列表无效。", "item_ids is a list of item ids."),
    "INVALID_JSON": ("请求体不是有效的 JSON。", "The body is not JSON."),
    "INVALID_KEYS": ("卡密列表无效：不能为空、不能含控制字符、每条不超过 512 字符；未导入任何内容。",
                     "The key list is malformed (empty, control characters or over 512 characters); nothing was imported."),
    "INVALID_KIND": ("商品类型无效。", "The product kind is not valid."),
    "INVALID_MESSAGE": ("留言不能为空，最多 4000 字。", "A message is 1 to 4000 characters."),
    "INVALID_NAME": ("商品名称无效。", "The product name is not valid."),
    "INVALID_NOTIFICATION": ("支付通知无效，已拒绝。", "The payment notification is not valid; refused."),
    "INVALID_PASSWORD": ("密码至少 6 位。", "A password has at least 6 characters."),
    "WRONG_PASSWORD": ("当前密码不正确。", "The current password is wrong."),
    "INVALID_PHONE": ("手机号无效。", "The phone number is not valid."),
    "INVALID_PHONE_NUMBER": ("请填写有效的中国大陆手机号：11 位数字，以 1 开头，例如 138 0013 8000。",
                             "Enter a valid mainland China mobile number: 11 digits starting with 1, e.g. 138 0013 8000."),
    "WRONG_CARRIER": ("这个号码不属于本商品的运营商，请核对号码，或选择该号码运营商的充值商品。",
                      "This number belongs to another carrier than this product's; check it, or choose that carrier's top-up."),
    "INVALID_QUANTITY": ("数量无效。", "The quantity is not valid."),
    "INVALID_REASON": ("请选择一个可申请的退款原因。", "Choose a refund reason you may apply for."),
    "INVALID_REASON_CODE": ("请选择驳回理由。", "Choose a rejection reason."),
    "INVALID_RECHARGE_ACCOUNT": ("直充商品需要填写充值账号。", "A top-up needs the account to recharge."),
    "INVALID_REFUND_POLICY": ("退款规则无效。", "The refund policy is not valid."),
    "INVALID_ROLE": ("角色无效。", "The role is not valid."),
    "INVALID_TEXT": ("文本含有不允许的字符（空字符、孤立代理项、控制字符或非 UTF-8 字节），未做任何更改。",
                     "The text contains a character that is not allowed (NUL, lone surrogate, control character or bytes that are not UTF-8); nothing changed."),
    "INVALID_STATE": ("该申请当前状态不能进行此操作（可能已被其他审核员处理）。", "The refund's state does not allow this (another reviewer may have acted)."),
    "INVALID_STATUS": ("状态值无效。", "The status is not valid."),
    "INVALID_USERNAME": ("用户名无效。", "The username is not valid."),
    "ITEMS_NOT_REFUNDABLE": ("所选商品中有的现在不能申请退款（已退款、已在处理中或不存在）。", "Some chosen items cannot be refunded now (refunded, in a request, or unknown)."),
    "LOCK_TIMEOUT": ("该数据正被其他操作占用，本次未做任何更改，请稍后重试。", "Another request holds what this one needs; nothing changed. Try again in a moment."),
    "MALFORMED_NOTIFICATION": ("回调内容格式错误，已拒绝。", "The callback is malformed; refused."),
    "MESSAGE_NOT_FOUND": ("消息不存在。", "No such message."),
    "NOT_DELIVERED": ("订单尚未发货，暂无可查看的卡密。", "Nothing delivered to reveal yet."),
    "NOT_FOUND": ("不存在。", "Not found."),
    "NOT_MANUAL": ("该商品自动发货，无需人工发货。", "This product is delivered automatically."),
    "NOTE_REQUIRED": ("驳回时请向买家说明理由。", "Explain the rejection to the buyer."),
    "NOTE_TOO_LONG": ("备注最多 4000 字。", "A note is at most 4000 characters."),
    "NOTHING_TO_REVEAL": ("没有可查看的卡密（直充商品无卡密）。", "These items carry no key to reveal."),
    "NOT_SANDBOX_TOPUP": ("该订单已提交给正式货源，结果只能由该货源回调或查询得到。",
                          "This order went to a configured source; only that source reports its result."),
    "NO_TOPUP": ("该订单没有进行中的直充。", "This order has no top-up in progress."),
    "ORDER_NOT_AWAITING_DELIVERY": ("该订单当前不在待发货状态。", "The order is not awaiting delivery."),
    "ORDER_NOT_FOUND": ("订单不存在。", "No such order."),
    "OUT_OF_STOCK": ("库存不足。", "Not enough stock for this quantity."),
    "OWN_ORDER": ("不能审核自己订单的退款申请。", "You cannot decide a refund on your own order."),
    "PAYLOAD_TOO_LARGE": ("请求体过大。", "The request body is too large."),
    "REQUEST_TIMEOUT": ("请求发送得太慢，已超时，未做任何更改。", "The request arrived too slowly and timed out; nothing changed."),
    "PAYMENT_NOT_FOUND": ("支付不存在。", "No such payment."),
    "PAYOUT_NOT_FAILED": ("只有失败的退款打款可以重新打款。", "Only a failed payout can be paid again."),
    "PAYOUT_NOT_FOUND": ("没有以此请求号发出的退款。", "No refund was sent with this request number."),
    "PAYOUT_NOT_SENT": ("该退款尚未发往支付渠道，本次未做任何更改。", "This refund was not sent to the gateway; nothing changed."),
    "PRODUCT_DESCRIPTION_TOO_LONG": ("商品描述最多 5000 字。", "A product description is at most 5000 characters."),
    "PRODUCT_NOT_FOUND": ("商品不存在。", "No such product."),
    "REFUND_POLICY_BROKEN": ("该商品的退款规则无法读取，暂停销售；供货商修正规则后可再购买或上架。",
                             "This product's refund rules cannot be read: it is not sold until its supplier fixes them."),
    "PRODUCT_NOT_STOCKED": ("只有卡密和兑换链接类（非人工发货）商品可以导入库存。", "Only card and link products sold from stock take keys."),
    "ITEM_ALREADY_REFUNDED": ("该申请的商品此后已通过其他途径退款，无需再申诉，本次未做任何更改。",
                              "An item of this request was refunded another way since; nothing to appeal, nothing changed."),
    "REFUND_ALREADY_OPEN": ("所选商品已有处理中的退款申请。", "An item is already in an open refund request."),
    "REFUND_CLOSED": ("该退款申请已结束，不能再留言或补充证据。", "This refund is closed: no more messages or evidence."),
    "REFUND_EXCEEDS_PAID": ("退款金额不能超过实付金额。", "This would refund more than was paid."),
    "REFUND_NOT_FOUND": ("退款申请不存在。", "No such refund."),
    "REFUND_REF_MISMATCH": ("退款流水号与支付渠道给出的不符，已拒绝。", "The refund reference differs from the gateway's; refused."),
    "REPLAYED": ("该回调已处理过（重复的随机数），已拒绝。", "This callback's nonce was already used; refused as a replay."),
    "ROLE_FORBIDDEN": ("当前账号角色无权进行此操作。", "Your role may not do this."),
    "SAME_REVIEWER": ("作出首次决定的审核员不能处理该申诉，请交给其他高级审核员。", "The reviewer of the first decision cannot decide its appeal; pass it to another senior reviewer."),
    "SENIOR_REVIEWER_REQUIRED": ("申诉须由高级审核员处理。", "An appeal is decided by a senior reviewer."),
    "SOURCE_NOT_FOUND": ("货源不存在。", "No such source."),
    "STALE_NOTIFICATION": ("通知已过期或时间无法识别。", "The notification is stale or its time is unreadable."),
    "STATEMENT_TIMEOUT": ("处理超时，本次未做任何更改，请稍后重试。", "The database took too long; nothing changed. Try again in a moment."),
    "STOCK_CONTENTION": ("库存变动，请重试。", "Stock changed while reserving; try again."),
    "SUPPLIER_DEADLINE_PASSED": ("答复期限已过：逾期未答复视为同意退款。", "The time to answer has passed: silence counts as acceptance."),
    "SUPPLIER_NOT_FOUND": ("供货商不存在。", "No such supplier."),
    "TERMS_NOT_ACCEPTED": ("请先确认：数字商品不适用七日无理由退货。", "Confirm that digital goods are excluded from 7-day no-reason returns."),
    "TOO_MANY_ATTEMPTS": ("登录失败次数过多，已暂时锁定，请稍后再试。", "Too many failed logins: locked for a while, try again later."),
    "EVIDENCE_LOCKED": ("审核员已开始审核，已上传的证据不能再撤下；如有更正请留言说明。",
                        "A reviewer has opened the case: uploads can no longer be removed. Send a message to correct one."),
    "EVIDENCE_ALREADY_REMOVED": ("这个文件已经撤下。", "This file was already removed."),
    "NO_FILE": ("请选择要上传的文件。", "Choose a file to upload."),
    "NO_THUMBNAIL": ("只有图片有缩略图。", "Only pictures have a thumbnail."),
    "TOO_MANY_FILES": ("每个退款申请最多上传 20 个证据文件。", "At most 20 evidence files per refund."),
    "TOO_MANY_UNPAID_ORDERS": ("您有过多未支付订单，请先支付或等待其过期。", "Pay or let expire your unpaid orders first."),
    "TOO_MANY_KEYS": ("单次最多导入 10000 条，请用 kameng import-keys 导入文件。", "Too many keys for one request; use kameng import-keys."),
    "TOPUP_FINISHED": ("该直充已有结果。", "The top-up already has a result."),
    "TRADE_NO_REUSED": ("该渠道交易号已支付过另一笔订单，已拒绝。", "This gateway trade number already paid another payment; refused."),
    "UNAUTHENTICATED": ("请先登录（Authorization: Bearer <token>）。", "Send Authorization: Bearer <token> (POST /api/v1/auth/token)."),
    "UNKNOWN_MERCHANT": ("商户号不符，已拒绝。", "The merchant id does not match; refused."),
    "UNREADABLE_NOTIFICATION": ("通知内容无法解析，已拒绝。", "The notification's body cannot be read; refused."),
    "UNSUPPORTED_FILE_TYPE": ("不支持该文件类型：请上传 PNG、JPEG、WebP、MP4、PDF 或纯文本。", "Unsupported file: upload PNG, JPEG, WebP, MP4, PDF or plain text."),
    "UNSUPPORTED_STATUS": ("不支持的通知状态。", "Unsupported notification status."),
    "URGE_NOT_ALLOWED": ("审核期限尚未到期，到期仍未处理时才可催办。", "You can urge once the review deadline has passed without a decision."),
    "USERNAME_TAKEN": ("用户名已被使用。", "This username is taken."),
    "VALIDATION_ERROR": ("请求字段不符合要求。", "The request does not match the expected fields."),
    "WITHDRAW_NOT_ALLOWED": ("当前状态不能撤回。", "A refund in this state cannot be withdrawn."),
    "CONCURRENT_CHANGE": ("商品正在被同时处理，本次未做任何更改，请重试。", "An item changed while it was being delivered; nothing changed, try again."),
    "FIELD_NOT_EDITABLE": ("包含不能修改的字段。", "Some of these fields cannot be changed."),
    "INSUFFICIENT_AVAILABLE": ("可提现余额不足，本次未做任何更改。", "The amount is more than the available balance; nothing changed."),
    "INVALID_FIELD": ("这些字段不能为空。", "These fields cannot be empty."),
    "INVALID_HOLIDAY": ("节假日安排格式有误：每行为 日期[~日期],休或班[,名称]，日期写作 YYYY-MM-DD。",
                        "A holiday line is DATE[~DATE],KIND[,NAME] with dates as YYYY-MM-DD and kind 休 or 班."),
    "INVALID_LANGUAGE": ("不支持该语言。", "This language is not offered."),
    "INVALID_ON_SALE": ("上架状态只能是 是 或 否。", "on_sale is true or false."),
    "INVALID_RATE": ("佣金比例须为 0 到上限之间的小数，最多 4 位小数，例如 0.05。",
                     "The commission rate is a decimal between 0 and the limit, at most 4 places, e.g. 0.05."),
    "INVALID_TIME": ("时间须带时区，例如 2026-11-20T21:05:00+08:00。", "The time needs an offset, e.g. 2026-11-20T21:05:00+08:00."),
    "NOTHING_TO_CHANGE": ("没有需要修改的内容。", "Nothing to change was sent."),
    "WITHDRAWAL_ALREADY_DECIDED": ("该提现申请已处理，本次未做任何更改。", "This withdrawal was already decided; nothing changed."),
    "WITHDRAWAL_NOT_FOUND": ("提现申请不存在。", "No such withdrawal."),
}


# Codes whose service message is already specific and in both languages (see the module's docstring).
SPEAK_FOR_THEMSELVES = frozenset({"CANCEL_NOT_ALLOWED", "DESCRIPTION_TOO_VAGUE", "REASON_NOT_ELIGIBLE"})


def text_for(code: str, fallback: str) -> str:
    """The sentence for `code` in the active language; the service's own message when there is none."""
    pair = TEXTS.get(code)
    if pair is None:
        return fallback
    return pair[1] if is_english() else pair[0]


def is_english() -> bool:
    return (translation.get_language() or "").startswith("en")


_BILINGUAL = re.compile(r"^(.*[。）)”])\s*([A-Za-z].*)$", re.S)


def one_language(text: str) -> str:
    """Policy sentences speak both languages at once ("中文。English."): keep the reader's one."""
    match = _BILINGUAL.match(text or "")
    if not match:
        return text or ""
    return match.group(2) if is_english() else match.group(1)
