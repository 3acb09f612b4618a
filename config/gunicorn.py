"""gunicorn's settings for every way the site is served: compose, the Docker image and the
benchmarks (`gunicorn -c config/gunicorn.py config.wsgi:application`).

Each worker process runs several threads: a request spends much of its time waiting on
PostgreSQL, Redis or the client, and threads let one process serve others meanwhile. Each thread
keeps its own database connection (DATABASE_CONN_MAX_AGE), so PostgreSQL's max_connections must
exceed workers × threads for every web container, plus the workers'.
"""

import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("WEB_THREADS", "4"))
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
