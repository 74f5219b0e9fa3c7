from django.contrib import admin
from django.urls import include, path

from kameng.api import (  # noqa: F401  (registers the endpoints)
    aftersales,
    batches,
    finance,
    finance_payouts,
    payments,
    records,
    routes,
    supplier_claims,
    supplier_money,
    suppliers,
)
from kameng.api.base import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("kameng.web.urls")),
]
