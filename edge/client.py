"""A small HTTP client for the FlowSuite API, authenticated with a device key."""

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass


class ApiError(Exception):
    """The server answered with an error, or could not be reached (status 0).

    `retry_after` holds the seconds of a Retry-After header when the server sent one."""

    def __init__(self, status: int, message: str, retry_after: float | None = None):
        super().__init__(f"{status or 'unreachable'}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass
class Server:
    url: str
    key: str
    timeout: float = 10.0

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        return self.send(method, path, data, "application/json" if data else None)

    def send(self, method: str, path: str, data: bytes | None, content_type: str | None) -> dict:
        """Send a body as it is; return the JSON answer, or raise ApiError."""
        request = urllib.request.Request(
            self.url.rstrip("/") + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.key}",
                "Accept": "application/json",
                **({"Content-Type": content_type} if content_type else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, _error_message(error), _retry_after(error)) from error
        except (urllib.error.URLError, OSError, ValueError) as error:
            # ValueError: an answer that is not JSON (a proxy's error page, a cut connection).
            raise ApiError(0, str(getattr(error, "reason", error))) from error

    def post_form(self, path: str, fields: dict[str, str], files: list[tuple]) -> dict:
        """POST multipart/form-data; `files` holds (field name, file name, content type,
        bytes), a field name repeated for several files."""
        body, content_type = multipart(fields, files)
        return self.send("POST", path, body, content_type)

    def whoami(self) -> dict:
        return self.request("GET", "/api/device/whoami/")


def multipart(fields: dict[str, str], files: list[tuple]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type (RFC 7578)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(_part(boundary, f'name="{name}"', None, str(value).encode()))
    for name, filename, content_type, data in files:
        parts.append(_part(boundary, f'name="{name}"; filename="{filename}"', content_type, data))
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _part(boundary: str, disposition: str, content_type: str | None, data: bytes) -> bytes:
    head = f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        details = json.loads(error.read())["error"]
        message = details["message"]
    except (ValueError, KeyError, TypeError, OSError):
        return error.reason
    # Which fields were wrong is what the person reading the agent's log needs.
    if details.get("fields"):
        message += " " + json.dumps(details["fields"], ensure_ascii=False)
    return message


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    # Only the delay-seconds form: Django REST framework's throttles send that one.
    try:
        return float(error.headers.get("Retry-After", ""))
    except ValueError:
        return None
