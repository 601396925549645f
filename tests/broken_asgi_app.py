"""An ASGI app that is up but broken: every request gets a 500 (for tests of start_site)."""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    print("broken app: answering 500 on purpose", flush=True)
    await send({"type": "http.response.start", "status": 500, "headers": []})
    await send({"type": "http.response.body", "body": b"broken"})
