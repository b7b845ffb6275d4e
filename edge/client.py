"""A small HTTP client for the FlowSuite API, authenticated with a device key."""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass


class ApiError(Exception):
    """The server answered with an error, or could not be reached (status 0)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status or 'unreachable'}: {message}")
        self.status = status
        self.message = message


@dataclass
class Server:
    url: str
    key: str
    timeout: float = 10.0

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url.rstrip("/") + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.key}",
                "Accept": "application/json",
                **({"Content-Type": "application/json"} if data else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, _error_message(error)) from error
        except (urllib.error.URLError, OSError) as error:
            raise ApiError(0, str(getattr(error, "reason", error))) from error

    def whoami(self) -> dict:
        return self.request("GET", "/api/device/whoami/")


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        return json.loads(error.read())["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return error.reason
