"""The server's side of the helper conversation, typed: one method per operation, each
starting a helper for its request (messages.py), walking the conversation protocol.py
draws, and returning the helper's answer decoded and checked (codec.py).

Who starts the helper, and under which limits, is the caller's: a ``Session`` opens one
started HelperCall for a request and closes it after (the gRPC handlers pass theirs, with
the concurrency slot, deadline watchdog and cancellation; ``HelperClient.over`` just starts
one from an executor). A helper that answers out of turn or with a malformed message is a
HELPER_FAILED Failure, logged with what it did; an ERROR it sends is its Failure.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from typing import TypeVar

from fsgate.reasons import Reason

from fsgate_server.backends.channel import Executor, HelperCall
from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.messages import (
    EDIT_ATTEMPTS,
    CopyArgs,
    CopyDone,
    EditArgs,
    EditDone,
    FileFacts,
    GlobArgs,
    GlobDone,
    ListArgs,
    ListPage,
    MakeDirArgs,
    MoveAcrossArgs,
    MoveArgs,
    MoveDone,
    ReadArgs,
    RemoveArgs,
    RemoveDone,
    Request,
    SearchArgs,
    SearchBatch,
    StatArgs,
    SweepArgs,
    SweepDone,
    WatchArgs,
    WatchBatch,
    WatchStarted,
    WriteArgs,
    WriteDone,
)
from fsgate_server.helper.protocol import Kind, ProtocolError

__all__ = ["HelperClient", "Session"]

Session = Callable[[Request], AbstractContextManager[HelperCall]]
M = TypeVar("M")


class HelperClient:
    def __init__(self, session: Session) -> None:
        self._session = session

    @classmethod
    def over(cls, executor: Executor, deadline: float | None) -> HelperClient:
        """A client whose every call starts a helper from executor, under deadline."""
        return cls(lambda req: closing(executor.start(req, deadline)))

    def stat(self, args: StatArgs) -> FileFacts:
        with self._session(args) as call:
            return _answer(call, FileFacts)

    def list(self, args: ListArgs) -> ListPage:
        with self._session(args) as call:
            return _answer(call, ListPage)

    def sweep(self, args: SweepArgs) -> SweepDone:
        with self._session(args) as call:
            return _answer(call, SweepDone)

    def make_dir(self, args: MakeDirArgs) -> FileFacts:
        with self._session(args) as call:
            return _answer(call, FileFacts)

    def remove(self, args: RemoveArgs) -> RemoveDone:
        with self._session(args) as call:
            return _answer(call, RemoveDone)

    def move(self, args: MoveArgs) -> MoveDone:
        """A rename; across file systems (the first helper answers MoveDone(None), having
        changed nothing) a second helper, which may write content, copies and removes."""
        with self._session(args) as call:
            done = _answer(call, MoveDone)
        if done.info is not None:
            return done
        across = MoveAcrossArgs(**{f.name: getattr(args, f.name)
                                   for f in dataclasses.fields(args)})
        with self._session(across) as call:
            done = _answer(call, MoveDone)
            if done.info is None:
                raise call.failed("helper answered a move across file systems with no info")
            return done

    def copy(self, args: CopyArgs) -> CopyDone:
        with self._session(args) as call:
            return _answer(call, CopyDone)

    def glob(self, args: GlobArgs) -> GlobDone:
        with self._session(args) as call:
            return _answer(call, GlobDone)

    @contextmanager
    def search(self, args: SearchArgs) -> Iterator[Iterator[SearchBatch]]:
        """The batches of matches as the helper finds them, while it lives; the last one
        carries the summary (an iterator that ends without one is HELPER_FAILED). The
        helper ends (killed if need be) when the with block does."""
        with self._session(args) as call:
            yield _batches(call)

    @contextmanager
    def read(self, args: ReadArgs) -> Iterator[tuple[FileFacts, Iterator[bytes]]]:
        """The file's facts and its content in chunks, while the helper lives: it ends
        (killed if need be) when the with block does, whether or not all was read."""
        with self._session(args) as call:
            yield _answer(call, FileFacts), _content(call)

    @contextmanager
    def watch(self, args: WatchArgs, *, setup_deadline: float | None = None
              ) -> Iterator[tuple[WatchStarted, Iterator[WatchBatch]]]:
        """The watch's start (every watch in place), then its event batches as they come,
        while the helper lives: REQUEST -> RESULT(started) EVENT* until the with block
        ends (the helper is then closed; it never ends the conversation by itself but with
        an ERROR). ``setup_deadline`` bounds the wait for the start (the helper timeout);
        the batches run under the call's own deadline (the watch's lifetime)."""
        with self._session(args) as call:
            lifetime = call.deadline
            if setup_deadline is not None:
                call.deadline = (setup_deadline if lifetime is None
                                 else min(lifetime, setup_deadline))
            started = _answer(call, WatchStarted)
            call.deadline = lifetime
            yield started, _watch_batches(call)

    def write(self, args: WriteArgs, chunks: Iterable[bytes],
              still_alive: Callable[[], bool]) -> WriteDone:
        """Send chunks as the file's content; it is named only if still_alive() holds after
        the client's last chunk and again once the helper made the content durable.
        still_alive may raise the Failure that says why not instead of returning False.
        Anything raised meanwhile (by chunks too) leaves the file as it was: the helper,
        not told COMMIT, is closed and drops its unnamed temporary."""
        with self._session(args) as call:
            call.expect(Kind.READY)  # the target is checked, the temporary open
            for chunk in chunks:
                call.send(Kind.DATA, chunk)
            # A cancel or deadline can end the request stream like a normal end, a moment
            # before gRPC marks the call inactive. So: check, let the helper make the
            # content durable (which gives a cancel time to land), check again as the very
            # last step, and only then let it name the file.
            _require(still_alive, args.path)
            call.send(Kind.END)
            call.expect(Kind.READY)  # prepared: durable, unnamed
            _require(still_alive, args.path)
            call.send(Kind.COMMIT)
            return _answer(call, WriteDone)


    def edit(self, args: EditArgs, still_alive: Callable[[], bool]) -> EditDone:
        """Edit a file. Each READY says the edited content is durable and unnamed; COMMIT
        is sent only if still_alive() holds then (as for write). The helper says READY again
        when the file changed before its commit and it edited anew, at most EDIT_ATTEMPTS
        times; a dry run answers at once."""
        with self._session(args) as call:
            for _ in range(EDIT_ATTEMPTS):
                kind, payload = call.recv()
                if kind is Kind.RESULT:
                    return _decoded(call, payload, EditDone)
                if kind is not Kind.READY or args.dry_run:
                    raise call.failed(f"expected READY or RESULT from helper, got {kind.name}")
                _require(still_alive, args.path)
                call.send(Kind.COMMIT)
            return _answer(call, EditDone)


def _answer(call: HelperCall, cls: type[M]) -> M:
    return _decoded(call, call.expect(Kind.RESULT), cls)


def _decoded(call: HelperCall, payload: bytes, cls: type[M]) -> M:
    try:
        return codec.decode(payload, cls)
    except ProtocolError as exc:
        raise call.failed(f"helper sent a malformed {cls.__name__}: {exc}") from None


def _batches(call: HelperCall) -> Iterator[SearchBatch]:
    while True:
        batch = _answer(call, SearchBatch)
        yield batch
        if batch.summary is not None:
            return


def _content(call: HelperCall) -> Iterator[bytes]:
    while True:
        kind, payload = call.recv()
        if kind is Kind.END:
            return
        if kind is not Kind.DATA:
            raise call.failed(f"expected DATA or END from helper, got {kind.name}")
        yield payload


def _watch_batches(call: HelperCall) -> Iterator[WatchBatch]:
    while True:
        payload = call.expect(Kind.EVENT)
        try:
            yield codec.decode(payload, WatchBatch)
        except ProtocolError as exc:
            raise call.failed(f"helper sent a malformed WatchBatch: {exc}") from None


def _require(still_alive: Callable[[], bool], path: str) -> None:
    if not still_alive():
        raise Failure(Reason.DEADLINE_EXCEEDED, "the call ended before the stream completed",
                      path)
