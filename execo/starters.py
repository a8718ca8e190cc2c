"""Starting the many processes of an action: a few threads at once.

``Process.start()`` is synchronous: it returns once the child runs, and
most of its time is the spawn itself, during which the vfork (``clone3``
or ``posix_spawn``, src_c/exo_spawn.c) holds the calling thread until
the child has exec'd. Under load that is most of a millisecond per
child (measured: ~0.7 ms for the stub ssh of bench/'s fanout_stub, whose
C loop spends as long), with the GIL released. One thread starting
2,000 processes waits for 2,000 of those in a row; :func:`start_all` has
up to :data:`STARTERS` threads (the caller and helpers) take the
processes in order from a shared queue and start them, so that their
spawns overlap: bench/'s fanout_stub (a Remote over 2,000 stub hosts)
went from 1.26 s to 1.00 s on 2 cores.

What a caller sees is unchanged: every process is started when
:func:`start_all` returns, and the first exception raised by a start is
raised again in the caller (the processes no thread had taken yet are
then not started, as those after it in a loop would not be). What
changes: the starts of an action's processes are concurrent (each is
thread-safe, as ever) and so only roughly in the order of the list
(each thread takes the next one). Hence an action with a ``fanout``
window, or any action while ``configuration['fanout']`` is set, whose
queued processes are spawned "in order" as running ones end, is started
by one thread; so are small actions (fewer than :data:`PARALLEL_MIN`
processes: a thread costs more than it saves).
"""

from __future__ import annotations

import collections
import os
import threading
from typing import Any, Deque, List, Sequence

__all__ = ["start_all", "STARTERS", "PARALLEL_MIN"]

#: threads starting the processes of one action, the caller included (a
#: spawn mostly waits for the child's exec: more threads than cores do not
#: make the cores faster)
STARTERS = max(1, min(4, os.cpu_count() or 1))
#: the smallest action started by more than one thread
PARALLEL_MIN = 32


def start_all(processes: Sequence[Any], in_order: bool = False) -> None:
    """``p.start()`` of every process of ``processes``, by up to
    :data:`STARTERS` threads (one when ``in_order``, or when there are
    fewer than :data:`PARALLEL_MIN`). Returns when all are started;
    raises the first exception a start raised (the processes not yet
    started then are left alone)."""
    if in_order or STARTERS < 2 or len(processes) < PARALLEL_MIN:
        for p in processes:
            p.start()
        return
    pending: Deque[Any] = collections.deque(processes)
    errors: List[BaseException] = []

    def starter() -> None:
        while True:
            try:
                p = pending.popleft()
            except IndexError:
                return
            try:
                p.start()
            except BaseException as e:  # (KeyboardInterrupt included: raised by the caller)
                errors.append(e)
                pending.clear()
                return

    helpers = []
    for _ in range(STARTERS - 1):
        t = threading.Thread(target=starter, name="execo-starter", daemon=True)
        try:
            t.start()
        except RuntimeError:  # (no thread can be made: fewer helpers)
            break
        helpers.append(t)
    try:
        starter()
    finally:
        pending.clear()  # (an interrupt in a join below: the helpers stop soon)
        for t in helpers:
            t.join()
    if errors:
        raise errors[0]
