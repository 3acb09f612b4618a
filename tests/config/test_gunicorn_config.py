"""config/gunicorn.py's worker hooks."""

import gc
import runpy
from pathlib import Path

from django.conf import settings


def test_a_worker_hides_what_it_loaded_from_the_garbage_collector():
    config = runpy.run_path(str(Path(settings.BASE_DIR) / "config" / "gunicorn.py"))
    try:
        config["post_worker_init"](worker=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
