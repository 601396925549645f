"""Run a coroutine to completion on an event loop of its own, from any thread.

`asyncio.run()` refuses to start where a loop already runs — in a notebook, always. Running it
in a new thread sidesteps that: the caller waits, the coroutine gets a loop to itself.
"""

import asyncio
import threading


def run_in_fresh_loop(coroutine_function, *args, name="fresh-loop", **kwargs):
    """`asyncio.run(coroutine_function(*args, **kwargs))` in a new thread; return its result.

    An exception raised there is re-raised here, in the caller's thread.
    """
    outcome = {}

    def target():
        try:
            outcome["value"] = asyncio.run(coroutine_function(*args, **kwargs))
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target, name=name)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
