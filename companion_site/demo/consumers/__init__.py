"""WebSocket consumers (Channels), one lesson point each; routed in config/routing.py.

Every close code the site uses is in codes.py; the base class in frames.py turns bad input
(binary or oversized frames, invalid JSON) and a client that stops reading into those codes.
"""
