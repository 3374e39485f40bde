"""One small hierarchy of API errors, each with a one-line message a person understands.

No message, repr or traceback argument ever holds the API token: errors are built from the
status code, the server's own message and the request path only.
"""

from __future__ import annotations


class NorthflankError(Exception):
    """Base of every error the API layer raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ApiStatusError(NorthflankError):
    """The API answered with an error status."""

    def __init__(self, message: str, status: int, server_message: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.server_message = server_message


class UnauthorizedError(ApiStatusError):
    """401: the token is missing, wrong or revoked."""


class ForbiddenError(ApiStatusError):
    """403: the token lacks a permission."""


class NotFoundError(ApiStatusError):
    """404: the project, job or run does not exist (any more)."""


class RateLimitedError(ApiStatusError):
    """429: the hourly request quota is spent."""

    def __init__(
        self, message: str, status: int, server_message: str | None, retry_after: float | None
    ) -> None:
        super().__init__(message, status, server_message)
        self.retry_after = retry_after


class ServerError(ApiStatusError):
    """5xx: the API failed on its side."""


class RequestError(ApiStatusError):
    """Another 4xx: the request was refused as malformed."""


class NetworkError(NorthflankError):
    """No answer: refused, reset, timed out, or the host name did not resolve."""


class ApiTimeoutError(NetworkError):
    """Connected, but the answer did not come in time: the API is slow or hanging."""


class BadResponseError(NorthflankError):
    """An answer that is not JSON or not of the documented shape."""


class ConfigError(NorthflankError):
    """The settings cannot work (no token, token over plain http, bad URL)."""
