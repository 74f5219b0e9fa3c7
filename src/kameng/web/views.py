from django.contrib.auth import views as auth_views
from django.http import HttpResponse

from kameng.catalog.selectors import products_with_stock


def products(request):
    names = ", ".join(p.name for p in products_with_stock())
    return HttpResponse(f"kameng: {names}")


login_view = auth_views.LoginView.as_view()
