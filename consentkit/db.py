"""Connecting to MongoDB, or to the embedded SecantusDB server when none is configured.

Production sets ``CONSENTKIT_MONGODB_URI`` to a MongoDB replica set. Without it,
consentkit talks to an embedded SecantusDB server, which speaks the MongoDB
wire protocol over WiredTiger storage. WiredTiger storage may be opened by one
process only, so the embedded server always runs as its own process
(``consentkit db serve``) and every other process -- the dev server, each
gunicorn worker, CLI commands, tests -- reaches it over its socket exactly as it
would reach MongoDB. Nothing above this module knows which one it talks to.

SecantusDB is beta software. Every workaround for it lives in this module:

* ``SecantusDBServer.uri`` ends with ``/``; appending a database name naively
  gives ``//db``, which pymongo rejects (:func:`_with_db`).
* The server class enables test-only commands (``configureFailPoint``) by
  default; we turn them off (:func:`embedded_server`).
* Without ``sync_on_commit`` an acknowledged write can be lost when the server
  process is killed (seen with 0.7.0b3: 49 inserts and an update acknowledged,
  then SIGKILL, then all gone after restart). Consent records must never be
  lost, so the daemon fsyncs every commit; only throwaway test servers skip it.
* The server's store of retryable-write replies is pruned by a scan and a sort
  on every write; :func:`_prune_retryable_writes_in_order` makes that constant.
* A pid file is not a reliable guard (a killed server left as a zombie still
  "exists" for ``kill(pid, 0)``), so :func:`serve_embedded` holds an ``flock``
  on ``consentkit-db.lock``, which the kernel releases when the process dies
  however it dies; two servers never open one directory.

One SecantusDB behaviour shapes code elsewhere, because the portable code is
simply correct on both servers (no server check, nothing to remove later):

* ``find_one_and_update`` returning the old document reads it before taking
  the write lock (0.7.0b3), so two racing writers can be handed the same old
  state. The record projection therefore moves by compare-and-set on its
  ``last_seq`` (consentkit.services.projection.refresh_projection), which is
  exact on MongoDB too.
* ``findAndModify`` writes through the filter ``{_id, $and: [query]}``, and a
  top-level ``$and`` is a filter its planner cannot route by any index, so
  every ``findAndModify`` examines every document of its collection (0.7.0b3:
  leasing one outbox message among 13,000 took longer than sending it; the
  10,000-message bench stalled). Code that must take one document and see it
  afterwards calls :func:`update_one_and_read`, and a counter with a limit
  :func:`count_under`: index-routed commands, exact on MongoDB too.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import mongoengine
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, PyMongoError

from consentkit import settings
from consentkit.errors import ConfigurationError, DatabaseUnavailableError

T = TypeVar("T")

log = logging.getLogger(__name__)

ALIAS = "default"


def embedded_uri(host: str | None = None, port: int | None = None) -> str:
    """Return the URI of the embedded server configured for this machine."""
    return f"mongodb://{host or settings.embedded_host()}:{port or settings.embedded_port()}/"


def _with_db(uri: str, name: str) -> str:
    """Return ``uri`` with ``name`` as its database path unless it already names one."""
    parts = urlsplit(uri)
    if parts.path.strip("/"):
        return uri
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def redacted_uri(uri: str | None) -> str | None:
    """Return ``uri`` with its password replaced, for logs and banners."""
    if not uri:
        return uri
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def resolve_uri(uri: str | None = None, db_name: str | None = None) -> str:
    """Return the URI to connect to: explicit, then ``CONSENTKIT_MONGODB_URI``, then embedded."""
    chosen = uri or settings.mongodb_uri() or embedded_uri()
    return _with_db(chosen, db_name or settings.db_name())


def connect(uri: str | None = None, *, db_name: str | None = None) -> None:
    """Register the default MongoEngine connection (idempotent for the same URI).

    The connection is lazy: an unreachable server surfaces on the first query
    as :class:`DatabaseUnavailableError` (see :func:`ping`), so a web process
    can start before its database and recover when it comes back.
    ``tz_aware=True`` makes every datetime read back aware UTC (STYLE: rule 4).
    """
    target = resolve_uri(uri, db_name)
    with contextlib.suppress(mongoengine.ConnectionFailure):
        current = mongoengine.get_connection(ALIAS)
        if getattr(current, "_consentkit_uri", None) == target:
            return
        disconnect()
    client = mongoengine.connect(
        host=target,
        alias=ALIAS,
        tz_aware=True,
        uuidRepresentation="standard",
        # Every wait is bounded (CONSENTKIT_DB_TIMEOUT_MS), so a request fails fast with
        # 503 well inside gunicorn's worker timeout instead of dying as WORKER TIMEOUT.
        serverSelectionTimeoutMS=settings.server_selection_timeout_ms(),
        connectTimeoutMS=settings.server_selection_timeout_ms(),
        socketTimeoutMS=settings.socket_timeout_ms(),
        appname="consentkit",
    )
    client._consentkit_uri = target


def disconnect() -> None:
    """Close the default connection, if any."""
    mongoengine.disconnect(ALIAS)


def current_uri() -> str | None:
    """Return the URI the default connection was opened with (None when not connected)."""
    try:
        client = mongoengine.get_connection(ALIAS)
    except mongoengine.ConnectionFailure:
        return None
    uri = getattr(client, "_consentkit_uri", None)
    return uri if isinstance(uri, str) else None


def ping() -> float:
    """Round-trip to the database and return the latency in milliseconds.

    Raises:
        DatabaseUnavailableError: the server did not answer in time.

    """
    started = time.perf_counter()
    try:
        mongoengine.get_db(ALIAS).command("ping")
    except (PyMongoError, mongoengine.ConnectionFailure) as exc:
        raise DatabaseUnavailableError("The database is not reachable.") from exc
    return (time.perf_counter() - started) * 1000


def ensure_indexes() -> None:
    """Create the indexes declared on every consentkit Document.

    Documents declare ``auto_create_index: False`` so that index builds happen
    here, once at start-up, and never in the middle of a request.
    """
    from consentkit.models import all_documents

    try:
        for document in all_documents():
            document.ensure_indexes()
    except PyMongoError as exc:
        raise DatabaseUnavailableError("Could not create indexes: database unreachable.") from exc


def update_one_and_read(
    collection: Collection[Any],
    query: Mapping[str, Any],
    update: Mapping[str, Any],
    *,
    sort: Sequence[tuple[str, int]] | None = None,
    projection: Mapping[str, Any] | None = None,
    tries: int = 8,
) -> dict[str, Any] | None:
    """Update the first document matching ``query`` (in ``sort`` order); return it as written.

    What ``find_one_and_update(..., return_document=AFTER)`` does, in commands every
    server routes by index (see the module docstring for why not ``findAndModify``):

    1. the first candidate's ``_id`` by ``find`` (``query``, ``sort``, limit 1);
    2. ``update_one({**query, "_id": id})``: the query re-asserted on that one
       document, so a writer that changed it first makes this match nothing, and the
       next candidate is tried (at most ``tries`` times, then None);
    3. the document read back by ``_id`` (a later writer's change may show in it, never
       an earlier state).

    Returns None when nothing matches.
    """
    for _ in range(tries):
        found = collection.find_one(query, {"_id": 1}, sort=list(sort) if sort else None)
        if found is None:
            return None
        if collection.update_one({**query, "_id": found["_id"]}, update).matched_count:
            after: dict[str, Any] | None = collection.find_one({"_id": found["_id"]}, projection)
            return after
    return None


def count_under(
    collection: Collection[Any],
    key: Mapping[str, Any],
    limit: int,
    *,
    on_insert: Mapping[str, Any] | None = None,
    also: Mapping[str, Any] | None = None,
) -> bool:
    """Add one to the ``count`` of the counter ``key`` names unless it reached ``limit``.

    Returns whether it was counted (False: the limit was reached). One index-routed
    ``update_one`` of ``{**key, count: {$lt: limit}}`` with upsert, so no read and no
    ``findAndModify`` (module docstring). A counter already at the limit matches
    nothing, and the upsert's insert then collides with the unique index on ``key``:
    the duplicate-key error is the answer "at the limit". Two first hits racing to
    insert collide the same way, so the loser tries once more and finds the counter
    (count 1) under the limit. ``on_insert`` is ``$setOnInsert``; ``also`` adds update
    operators applied only when counted (the latest call's time, ``$max``). ``key``'s
    fields must be a unique index.
    """
    update = {"$inc": {"count": 1}, **(also or {})}
    if on_insert:
        update["$setOnInsert"] = dict(on_insert)
    for _ in range(2):
        try:
            collection.update_one({**key, "count": {"$lt": limit}}, update, upsert=True)
        except DuplicateKeyError:
            continue
        return True
    return False


#: Values per ``$in`` in a bulk read: the embedded database's cost of an ``$in`` grows with
#: the square of its length (1,000 documents: about 1 s in one read, 0.1 s in reads of 10-15).
IN_CHUNK = 12


def in_chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """Yield ``values`` in lists of at most ``size``, one ``$in`` read each (:data:`IN_CHUNK`)."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """Return True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def server_answers(uri: str, timeout_ms: int = 1000) -> bool:
    """Return True when a MongoDB-protocol server at ``uri`` answers ``ping``."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def wait_until_ready(uri: str, timeout_s: float = 30.0) -> None:
    """Block until the server at ``uri`` answers, or raise DatabaseUnavailableError."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server_answers(uri, timeout_ms=500):
            return
        time.sleep(0.2)
    raise DatabaseUnavailableError(
        "No database answered at %(uri)s within %(seconds)s s.",
        params={"uri": redacted_uri(uri), "seconds": f"{timeout_s:.0f}"},
    )


def _load_secantus() -> Any:
    try:
        from secantus import SecantusDBServer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "The embedded database needs the optional 'embedded' extra: "
            "pip install 'consentkit[embedded]', or set CONSENTKIT_MONGODB_URI."
        ) from exc
    _prune_retryable_writes_in_order()
    return SecantusDBServer


def _prune_retryable_writes_in_order() -> None:
    """Make the embedded server forget old retryable writes in constant time per write.

    The server keeps the reply of each retryable write (every write pymongo sends) for
    30 minutes, at most 10,000, and on every write scans them all for stale ones and,
    once 10,000 are kept, sorts them all to drop the oldest (0.7.0b3). After 10,000
    writes in half an hour each write then pays a sort of 10,000: the outbox bench's
    10,000-message run stalled behind it. Records are kept in a dict in the order they
    were made, so the oldest are at its front: this drops from the front while the first
    is stale or there are too many, the same records in amortised constant time. A
    record re-made for the same key keeps its place and is dropped a little late, never
    early. Skipped (with a warning) if the server's internals are not as expected.
    """
    try:
        from secantus import transactions
    except ImportError:  # pragma: no cover - depends on the install
        return
    registry = getattr(transactions, "TransactionRegistry", None)
    lifetime = getattr(transactions, "_RETRYABLE_RECORD_LIFETIME_SECONDS", None)
    most = getattr(transactions, "_RETRYABLE_RECORD_MAX", None)
    if registry is None or lifetime is None or most is None:
        log.warning("SecantusDB internals changed: retryable-write pruning left as it is")
        return
    if getattr(registry, "_consentkit_prune", False):
        return

    def prune(self: Any) -> None:
        kept: dict[Any, tuple[Any, float, Any]] = self._retryable
        cutoff = self._time() - lifetime
        while kept:
            first = next(iter(kept))
            if kept[first][1] >= cutoff and len(kept) <= most:
                return
            del kept[first]

    registry._prune_retryable_locked = prune
    registry._consentkit_prune = True


@contextlib.contextmanager
def embedded_server(
    storage_path: Path | str, host: str = "127.0.0.1", port: int = 0, *, durable: bool = True
) -> Iterator[str]:
    """Run an embedded server in this process for the ``with`` block; yield its URI.

    For tests and one-off tools only: the storage directory is then locked by
    this process. Long-lived deployments use :func:`serve_embedded` in its own
    process instead. ``durable=False`` skips the per-commit fsync, for
    throwaway test data only.
    """
    server_class = _load_secantus()
    Path(storage_path).mkdir(parents=True, exist_ok=True)
    server = server_class(
        host=host,
        port=port,
        storage_path=str(storage_path),
        enable_test_commands=False,
        sync_on_commit=durable,
    )
    server.start()
    try:
        bound_host, bound_port = server.address
        yield f"mongodb://{bound_host}:{bound_port}/"
    finally:
        server.stop()


def lock_file(storage_path: Path) -> Path:
    """Return the lock file that marks a data directory as served by one process."""
    return storage_path / "consentkit-db.lock"


@contextlib.contextmanager
def _exclusive(storage_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the data directory for the ``with`` block.

    Raises:
        ConfigurationError: another process serves this directory.

    """
    path = lock_file(storage_path)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ConfigurationError(
                "Another consentkit database server (pid %(pid)s) uses %(path)s.",
                params={"pid": holder, "path": storage_path},
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def serve_embedded(storage_path: Path, host: str, port: int) -> None:
    """Serve the embedded database in the foreground until SIGINT or SIGTERM.

    Refuses to start when another process serves the same directory or the
    port is taken: two processes must never open the same WiredTiger directory.
    """
    storage_path.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()

    with _exclusive(storage_path):
        if is_listening(host, port):
            raise ConfigurationError(
                "Port %(port)s on %(host)s is already in use.", params={"port": port, "host": host}
            )
        previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            with embedded_server(storage_path, host, port) as uri:
                log.info("embedded database serving %s from %s", uri, storage_path)
                while not stop.wait(0.5):
                    pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
