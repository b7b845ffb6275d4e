"""API conventions shared by every app: pagination, one error shape, and reading a JPEG body
(who may call: flowsuite.permissions).

Errors always look like:
    {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"name": ["..."]}}}
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, pagination, parsers, status


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    # Imported here: rest_framework.views reads the API settings, which name this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    error = {"status": response.status_code, "code": _code_of(exc), "message": _message_of(exc)}
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        error["fields"] = exc.detail
    response.data = {"error": error}
    return response


def _code_of(exc) -> str:
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    return codes if isinstance(codes, str) else getattr(exc, "default_code", "error")


def _message_of(exc) -> str:
    detail = exc.detail
    if isinstance(detail, dict):
        if list(detail) == ["non_field_errors"]:  # the whole request is wrong, not a field
            return " ".join(str(item) for item in detail["non_field_errors"])
        return _("Some fields are not valid.") if detail else str(exc.default_detail)
    if isinstance(detail, list):
        return " ".join(str(item) for item in detail)
    return str(detail)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The upload is too large.")
    default_code = "too_large"


def jpeg_body_parser(max_bytes: int, too_large: str) -> type[parsers.BaseParser]:
    """A parser for a body that is one JPEG (`Content-Type: image/jpeg`) of at most
    `max_bytes`: it reads no further, and answers 413 with `too_large` past it."""

    class JpegParser(parsers.BaseParser):
        media_type = "image/jpeg"

        def parse(self, stream, media_type=None, parser_context=None):
            if stream is None:
                return b""
            data = stream.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise PayloadTooLarge(too_large)
            return data

    return JpegParser
