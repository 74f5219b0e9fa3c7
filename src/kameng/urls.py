from django.contrib import admin
from django.urls import include, path

from kameng.api import aftersales, finance, finance_payouts, payments, routes, supplier_claims, suppliers  # noqa: F401  (registers the endpoints)
from kameng.api.base import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("kameng.web.urls")),
]
