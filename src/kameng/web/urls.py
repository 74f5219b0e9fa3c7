from django.urls import path

from .views import auth, orders, shop, supplier, wallet

app_name = "web"

urlpatterns = [
    path("", shop.products, name="products"),
    path("products/<int:product_id>/", shop.product_detail, name="product"),
    path("products/<int:product_id>/buy/", shop.checkout, name="checkout"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("orders/", orders.order_list, name="orders"),
    path("orders/<str:order_no>/", orders.order_detail, name="order"),
    path("orders/<str:order_no>/reveal/", orders.order_reveal_view, name="order_reveal"),
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
