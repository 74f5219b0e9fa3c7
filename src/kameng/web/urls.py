from django.urls import path

from . import views

app_name = "web"

urlpatterns = [
    path("", views.products, name="products"),
    path("login/", views.login_view, name="login"),
]
