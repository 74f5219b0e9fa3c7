"""The user's own settings: the language the platform writes to them in, and (buyers) where the platform's
own refunds go (原路退回 or 钱包). Switching the page language while logged in is remembered as the former."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.i18n import set_language

from kameng.accounts.services import language_set, refund_destination_set
from kameng.core.errors import DomainError

from ..errors import error_text
from ..forms import LanguageForm, RefundDestinationForm


@login_required
def settings_view(request):
    user = request.user
    posted = _which_form(request)
    language_form = LanguageForm(request.POST if posted == "language" else None, initial={"language": user.language})
    destination_form = None
    if user.is_buyer:
        destination_form = RefundDestinationForm(request.POST if posted == "destination" else None,
                                                 initial={"refund_destination": user.refund_destination})
    status = 200
    form = {"language": language_form, "destination": destination_form}.get(posted)
    if form is not None:
        if form.is_valid():
            try:
                if posted == "language":
                    language_set(user=user, language=form.cleaned_data["language"])
                else:
                    refund_destination_set(user=user, destination=form.cleaned_data["refund_destination"])
            except DomainError as exc:
                form.add_error(None, error_text(exc))
                status = exc.status
            else:
                messages.success(request, _("已保存。"))
                response = redirect("web:settings")
                if posted == "language":  # the pages follow at once
                    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language,
                                        samesite=settings.LANGUAGE_COOKIE_SAMESITE)
                return response
        else:
            status = 422
    elif posted is not None:
        status = 400
    return render(request, "web/settings.html", {"language_form": language_form, "form": destination_form},
                  status=status)


def _which_form(request) -> str | None:
    """Which of the page's forms was sent (a form posted without its marker is known by its field)."""
    if request.method != "POST":
        return None
    if request.POST.get("form"):
        return request.POST["form"]
    return "destination" if "refund_destination" in request.POST else "language"


def remember_language(request):
    """Django's set_language; a logged-in user's choice also becomes the language of their messages."""
    response = set_language(request)
    language = request.POST.get("language")
    if (request.method == "POST" and request.user.is_authenticated
            and language in dict(settings.LANGUAGES) and language != request.user.language):
        language_set(user=request.user, language=language)
    return response
