"""The export as an HTTP answer, the same for the API and the page."""

from django.http import StreamingHttpResponse


def export_response(export, stream) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="kameng-records-{export.id}.zip"'
    response["Cache-Control"] = "no-store"  # it holds card secrets in clear
    response["X-Export-Id"] = str(export.id)
    return response
