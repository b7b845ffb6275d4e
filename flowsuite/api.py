"""API conventions shared by every app: pagination and one error shape (who may call:
flowsuite.permissions).

Errors always look like:
    {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"name": ["..."]}}}
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, pagination


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
