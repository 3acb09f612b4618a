"""gunicorn's settings for every way the site is served: compose, the Docker image and the
benchmarks (`gunicorn -c config/gunicorn.py config.wsgi:application`).

Four single-threaded (sync) worker processes by default: a request here is mostly Python, its
waits on PostgreSQL and Redis a millisecond or two, so on two cores threads only took turns
holding the interpreter's lock. In a burst of 1,000 submissions four sync workers took them in
0.5–0.9 s less than three processes of four threads (docs/reliability.md, 2 December, a sixth
session). A sync worker is held for the whole of a slow client's request, so the site is served
behind a proxy that buffers requests, as production's TLS proxy does (SECURE_PROXY_SSL_HEADER).
WEB_THREADS above 1 switches to threads. Each thread keeps its own database connection
(DATABASE_CONN_MAX_AGE), so PostgreSQL's max_connections must exceed workers × threads for every
web container, plus the workers'.
"""

import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT_SECONDS", "30"))
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None


def post_worker_init(worker) -> None:
    """Load what the first requests would (config/warmup.py), then move everything the worker
    loaded (Django, the app, its modules) out of the garbage collector's sight. Those ~100,000
    objects live as long as the process; without this every full collection walks them all,
    which stalls whichever request triggers it for 40–100 ms on a shared 2-core machine (the
    load bench's slow p99 requests). Objects made later are collected as before.
    https://docs.python.org/3/library/gc.html#gc.freeze
    """
    import gc

    from config.warmup import warm_up

    warm_up()
    gc.collect()
    gc.freeze()
