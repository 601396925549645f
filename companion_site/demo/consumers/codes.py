"""Every close code the companion site's WebSocket endpoints use, in one place (lesson 14).

1000-1015 are the protocol's own (RFC 6455, section 7.4.1); 4000-4999 are for applications,
and these mirror the HTTP status a learner already knows. A connection refused before the
handshake completes gets no close code at all: the client sees HTTP 403 instead.
"""

from enum import IntEnum


class Close(IntEnum):
    NORMAL = 1000  # the consumer is done (sent by either side)
    BINARY_NOT_ACCEPTED = 1003  # a binary frame where this endpoint speaks text
    TOO_BIG = 1009  # a text frame over MAX_TEXT_BYTES
    INVALID_JSON = 4400  # the text is not a JSON object with the fields the endpoint expects
    NOT_LOGGED_IN = 4401  # scope["user"] is anonymous
    UNKNOWN_PATH = 4404  # no consumer for this path
    TOO_SLOW = 4408  # the client stopped reading: its outbox overflowed


# The handshake is answered "HTTP 403" when the Origin header is missing or names a host
# outside ALLOWED_HOSTS (AllowedHostsOriginValidator): a page on another site cannot connect.
REFUSED_ORIGIN_STATUS = 403

MAX_TEXT_BYTES = 64 * 1024
# Messages waiting for a client that does not read; past this the server gives up on it.
OUTBOX_SIZE = 64
