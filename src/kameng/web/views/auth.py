from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy
from django.utils.translation import gettext

from kameng.accounts.services import tokens_revoke_all

login_view = auth_views.LoginView.as_view(template_name="web/login.html", redirect_authenticated_user=True)
logout_view = auth_views.LogoutView.as_view()


class PasswordChange(auth_views.PasswordChangeView):
    """Django's form (old password, new twice, the validators); this browser stays logged in, every
    other session and every API token of the user ends."""

    template_name = "web/password_change.html"
    success_url = reverse_lazy("web:products")

    def form_valid(self, form):
        response = super().form_valid(form)
        tokens_revoke_all(user=self.request.user)
        messages.success(self.request, gettext("密码已修改。其他设备上的登录和所有 API 令牌均已失效。"))
        return response


password_change_view = PasswordChange.as_view()
