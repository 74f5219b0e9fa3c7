from django.urls import path

from .views import auth, inbox, orders, refunds, shop, staff, supplier, wallet

app_name = "web"

urlpatterns = [
    path("", shop.products, name="products"),
    path("products/<int:product_id>/", shop.product_detail, name="product"),
    path("products/<int:product_id>/buy/", shop.checkout, name="checkout"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("password/", auth.password_change_view, name="password_change"),
    path("orders/", orders.order_list, name="orders"),
    path("orders/<str:order_no>/", orders.order_detail, name="order"),
    path("orders/<str:order_no>/reveal/", orders.order_reveal_view, name="order_reveal"),
    path("orders/<str:order_no>/refund/", refunds.refund_apply, name="refund_apply"),
    path("refunds/", refunds.refund_list, name="refunds"),
    path("refunds/<int:refund_id>/", refunds.refund_detail, name="refund"),
    path("refunds/<int:refund_id>/evidence/", refunds.refund_evidence, name="refund_evidence"),
    path("refunds/<int:refund_id>/evidence/<int:evidence_id>/", refunds.refund_evidence_file, name="refund_evidence_file"),
    path("refunds/<int:refund_id>/message/", refunds.refund_message, name="refund_message"),
    path("refunds/<int:refund_id>/urge/", refunds.refund_urge, name="refund_urge"),
    path("refunds/<int:refund_id>/appeal/", refunds.refund_appeal, name="refund_appeal"),
    path("refunds/<int:refund_id>/withdraw/", refunds.refund_withdraw, name="refund_withdraw"),
    path("refunds/<int:refund_id>/dossier/", refunds.refund_dossier, name="refund_dossier"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/<int:message_id>/read/", inbox.mark_read, name="inbox_read"),
    path("staff/refunds/", staff.queue, name="staff_queue"),
    path("staff/refunds/<int:refund_id>/", staff.case, name="staff_case"),
    path("staff/refunds/<int:refund_id>/request-info/", staff.request_info, name="staff_request_info"),
    path("staff/refunds/<int:refund_id>/approve/", staff.approve, name="staff_approve"),
    path("staff/refunds/<int:refund_id>/reject/", staff.reject, name="staff_reject"),
    path("staff/refunds/<int:refund_id>/evidence/<int:evidence_id>/", staff.evidence_file, name="staff_evidence_file"),
    path("sandbox/pay/<str:payment_no>/", orders.sandbox_pay, name="sandbox_pay"),
    path("wallet/", wallet.wallet, name="wallet"),
    path("supplier/products/", supplier.product_list, name="supplier_products"),
    path("supplier/products/new/", supplier.product_new, name="product_new"),
    path("supplier/products/<int:product_id>/import/", supplier.key_import, name="key_import"),
    path("supplier/imports/<int:batch_id>/", supplier.import_progress, name="import_progress"),
    path("supplier/imports/<int:batch_id>/status/", supplier.import_status, name="import_status"),
    path("supplier/manual/", supplier.manual_orders, name="manual_orders"),
    path("supplier/manual/<str:order_no>/deliver/", supplier.manual_deliver_view, name="manual_deliver"),
]
