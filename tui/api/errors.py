"""One small hierarchy of API errors, each with a one-line message a person understands.

No message, repr or traceback argument ever holds the API token: errors are built from the
status code, the server's own message and the request path only. Every message passes through
`tui.sanitize.printable` here, once, so a server's text or a hostile id can never put an escape
sequence on the terminal, whoever shows the error.
"""

from __future__ import annotations

from ..sanitize import printable

# A server's own error text is cut to this many characters before it goes into a message.
MAX_SERVER_MESSAGE = 300


class NorthflankError(Exception):
    """Base of every error the API layer raises."""

    def __init__(self, message: str) -> None:
        message = printable(message)
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
        self.server_message = (
            None if server_message is None else printable(server_message[:MAX_SERVER_MESSAGE])
        )


class UnauthorizedError(ApiStatusError):
    """401: the token is missing, wrong or revoked."""


class ForbiddenError(ApiStatusError):
    """403: the token lacks a permission."""


class NotFoundError(ApiStatusError):
    """404: the project, job or run does not exist (any more)."""


class RateLimitedError(ApiStatusError):
    """429: the hourly request quota is spent. `retry_after` is in [1, 3600] s or None."""

    def __init__(
        self, message: str, status: int, server_message: str | None, retry_after: float | None
    ) -> None:
        super().__init__(message, status, server_message)
        self.retry_after = retry_after


class BudgetExhaustedError(RateLimitedError):
    """Nothing was sent: this process spent its share of the quota, or hit its burst cap.

    A `RateLimitedError` (with `status` 0, as no answer came) so that every caller that holds
    off for `retry_after` after a 429 holds off the same way here; `retry_in` is the same
    number of seconds, until the gate lets the next request through.
    """

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message, 0, None, retry_in)
        self.retry_in = retry_in


class ServerError(ApiStatusError):
    """5xx: the API failed on its side."""


class RequestError(ApiStatusError):
    """Another 4xx: the request was refused as malformed."""


class NetworkError(NorthflankError):
    """No answer: refused, reset, timed out, or the host name did not resolve."""


class ApiTimeoutError(NetworkError):
    """Connected, but the answer did not come in time: the API is slow or hanging."""


class BadResponseError(NorthflankError):
    """An answer that is not JSON or not of the documented shape (or is too large)."""


class InconsistentPagesError(BadResponseError):
    """A paginated list that cannot end: a cursor came back, or empty pages kept coming."""


class InvalidIdError(NorthflankError):
    """An id that cannot go into a request path (empty, `.`, `..`, `/`, control characters).

    Raised before anything is sent.
    """


class ConfigError(NorthflankError):
    """The settings cannot work (no token, token over plain http, bad URL)."""
