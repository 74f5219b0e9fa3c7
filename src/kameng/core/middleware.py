from django.conf import settings
from django.http import JsonResponse


class SandboxGate:
    """Sandbox paths do not exist unless KAMENG_SANDBOX=1 (404, before any authentication)."""

    PREFIXES = ("/api/v1/sandbox/", "/sandbox/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.KAMENG_SANDBOX and request.path.startswith(self.PREFIXES):
            return JsonResponse({"error": {"code": "NOT_FOUND", "message": "not found"}}, status=404)
        return self.get_response(request)
