from django.conf import settings


def site(request):
    return {"sandbox": settings.KAMENG_SANDBOX}
