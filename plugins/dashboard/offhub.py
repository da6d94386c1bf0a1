"""Database work of a page, run on an operating-system thread while the gevent hub serves everyone else.

A page may read for a few hundred milliseconds; on the hub that would hold
every stream the gateway relays. The function runs on a new OS thread (no
logging there: see ``aibridge.ThreadSafeLogger``) and its result or exception
comes back to the request.
"""

from __future__ import annotations

import aibridge

from ..storage import reading
from .web import settings


def off_hub(function, *args):
    """``function(*args)``, computed on an OS thread; the caller's greenlet waits cooperatively."""
    done = aibridge.new_lock()
    done.acquire()
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # handed to the caller, raised there
            outcome["error"] = error
        finally:
            done.release()

    aibridge.start_thread(run)
    aibridge.wait_for_release(done)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def read_off_hub(function, *args):
    """``function(db, *args)`` on an OS thread, ``db`` a read-only snapshot of the records database."""
    path = settings.get().database  # the app of this request: the thread has no app context

    def read():
        with reading(path) as db:
            return function(db, *args)

    return off_hub(read)


def with_users(function, *args):
    """``function(store, *args)`` on an OS thread, ``store`` an ``aibridge.UserStore`` of the gateway's database."""
    path = settings.get().database

    def run():
        db = aibridge.open_database(path, create=False)
        try:
            return function(aibridge.UserStore(db), *args)
        finally:
            db.close()

    return off_hub(run)
