from django.contrib import admin
from django.urls import include, path

from kameng.api import (  # noqa: F401  (registers the endpoints)
    aftersales,
    batches,
    catalog_manage,
    finance,
    finance_payouts,
    inbox,
    payments,
    records,
    routes,
    supplier_claims,
    supplier_money,
    suppliers,
)
from kameng.api.base import api
from kameng.web.views import account

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    # Django's set_language, remembering a logged-in user's choice (web/views/account.py).
    path("i18n/setlang/", account.remember_language, name="set_language"),
    path("", include("kameng.web.urls")),
]
