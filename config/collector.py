"""Python's cyclic garbage collector paused for work that builds many objects at once.

The collector starts a pass every few hundred new container objects, and every hundredth pass
looks at every object the process holds. A matching batch builds hundreds of thousands (rows
read, the flow network, proposals) and keeps most of them until it ends, so those passes
found nothing to free and took about a tenth of the batch's time. Objects are still freed as their
last reference goes; only reference cycles wait until the collector runs again after the block.
"""

import contextlib
import gc


@contextlib.contextmanager
def collector_paused():
    """Pause the collector for the block (or the decorated call), then restart it, unless it
    was already paused when the block began (by an outer block, or by its owner)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
