# cython: language_level=3
"""The I/O and child-process event loop of execo (mechanism only).

One :class:`Reactor` runs in one thread.  It watches file descriptors
(epoll, or poll() where configured), reaps its own children (a pidfd per
child, or a SIGCHLD self-pipe with ``waitpid(pid, WNOHANG)`` over its own
pids: never ``waitpid(-1)``), runs timers kept in a heap on the monotonic
clock, and is woken from other threads through an eventfd.  It knows
nothing of execo's process policy: it calls methods of a *sink* object:

- ``sink._on_data(stream, data)``: ``data`` (bytes) was read from ``stream``
- ``sink._on_eof(stream, err)``: ``stream`` reached end of file (``err`` is
  0) or failed with errno ``err``; the reactor has closed its fd
- ``sink._on_exit(code)``: the child ended; ``code`` is its exit status or
  ``-signal`` when a signal ended it (the ``subprocess`` convention)
- ``sink._on_write_error(stream, err)``: writing to ``stream`` failed

All sink calls happen in the reactor thread, with the GIL held.  The GIL
is released while waiting for events and while reading.  An exception
raised by a sink is passed to ``Reactor.error_handler`` and the loop goes
on.

Streams are numbered like the file descriptors of the child: 0 stdin,
1 stdout, 2 stderr.

A reactor may also feed a *watchdog* (:meth:`Reactor.start_watchdog`): a
process in its own session holding the read end of a pipe whose write end
only this process has (close-on-exec).  The reactor tells it, in records
headed by one C int ``pid << 3 | op``, every child spawned
(``WATCHDOG_ADD_GROUP`` when the child leads its own process group, else
``WATCHDOG_ADD_PID``; then ``WATCHDOG_FAREWELL`` for a child spawned with
``farewell`` bytes: three more ints, the length of the bytes and the two
halves of the inode of the child's stdin pipe, then the bytes padded to a
whole int), every child whose stdin this process closed
(``WATCHDOG_RELEASE``, for those with a farewell) and every child reaped
(``WATCHDOG_REMOVE``).  Additions are written at once by ``spawn()`` (one
write, with whatever else is queued); the others are queued and written
once per loop iteration.  Writes never block: what the pipe does not take
waits for it to be writable; a watchdog that leaves 1 MiB unread (stopped?)
is killed, and the ``watchdog_exit_handler`` may start another one, which
is told of the live children.  What the watchdog does when the pipe
reaches end of file (this process is gone) is its own policy
(:mod:`execo.watchdog`).
"""

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_Decode, PyUnicode_DecodeUTF8, PyUnicode_DecodeUTF8Stateful
from cpython.unicode cimport PyUnicode_KIND, PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_1BYTE_KIND
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF, Py_CLEAR
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
from libc.errno cimport errno, EAGAIN, EINTR, EIO, EPIPE
from posix.unistd cimport read, write, close
from posix.types cimport pid_t
from posix.resource cimport rlimit, rlim_t, getrlimit, RLIMIT_NOFILE, RLIM_INFINITY
from execo._system cimport (
    _str_new, _str_resize, _str_data, PyThread_get_thread_ident,
    epoll_event, epoll_create1, epoll_ctl, epoll_wait, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL,
    EPOLLIN, EPOLLOUT,
    pollfd, poll, POLLIN, POLLOUT,
    eventfd, EFD_CLOEXEC, EFD_NONBLOCK,
    fcntl, O_CLOEXEC, O_NONBLOCK, F_SETPIPE_SZ,
    pipe2,
    memmem,
    waitpid, WNOHANG, WIFEXITED, WEXITSTATUS, WIFSIGNALED, WTERMSIG,
    kill, killpg,
    stat, fstat,
    timespec, clock_gettime, CLOCK_MONOTONIC,
)

import heapq
import os
import sys

# Spawn flags, re-exported for the Python layer.
SPAWN_PTY = EXO_SPAWN_PTY
SPAWN_NEW_SESSION = EXO_SPAWN_NEW_SESSION
SPAWN_NEW_PGROUP = EXO_SPAWN_NEW_PGROUP
SPAWN_PATH = EXO_SPAWN_PATH
SPAWN_NO_STDIN = EXO_SPAWN_NO_STDIN
SPAWN_MERGE_STDERR = EXO_SPAWN_MERGE_STDERR

cdef enum:
    READ_SIZE = 262144         # reads handed to Python callbacks
    COLLECT_READ = 1048576     # reads straight into a Collector
    COLLECT_SMALL = 65536      # ... unless it holds less, with less room
    PIPE_FULL = 65536          # a read this big: the writer is fast
    BIG_PIPE = 1048576         # ... so give its pipe 1 MiB (fewer wake-ups)
    MAX_READS = 16             # reads of one fd per wake-up while it fills them
    MAX_EVENTS = 256

# How long a stream stays parked after an expect() (Child.give_back(park)):
# for the next expect() of a round trip to take it over without waking the
# loop; then the loop takes it back (at most one loop wake-up per PARKED).
PARKED = 0.005

cdef enum:  # what one read of a watched fd found (_read_once)
    READ_CLOSED = 0            # eof or error: reported to the sink, fd closed
    READ_FULL = 1              # a full read: more may be waiting
    READ_EMPTY = 2             # nothing there (EAGAIN)
    READ_PARTIAL = 3           # a partial read: the pipe is empty for now

cdef enum:  # FdWatch kinds
    K_READ = 1
    K_WRITE = 2
    K_PIDFD = 3
    K_WAKE = 4
    K_SIGCHLD = 5
    K_WDPIPE = 6               # the write end of the watchdog's pipe

cdef enum:  # what another thread may ask of the loop thread (Reactor._in_loop_do)
    DO_REGISTER_CHILD = 1      # a: Child, just spawned
    DO_ADD_READER = 3          # a: FdWatch of add_reader()
    DO_SET_READING = 4         # a: FdWatch, b: on
    DO_WANT_WRITABLE = 5       # a: FdWatch with bytes queued
    DO_WRITER_FAILED = 6       # a: FdWatch, b: errno
    DO_CLOSE_WRITER = 7        # a: FdWatch to close once drained
    DO_CLOSE_WATCH = 8         # a: FdWatch
    DO_DRAIN_AND_CLOSE = 9     # a: FdWatch (Reader.close)
    DO_CLOSE_STREAMS = 10      # a: Child (Child.close_streams)
    DO_WD_WANT_WRITABLE = 11   # the watchdog's pipe has records queued

cdef enum:  # watchdog records, headed by one C int: pid << 3 | op
    WD_ADD_GROUP = 0           # kill the process group pid at the end
    WD_ADD_PID = 1             # kill the process pid at the end
    WD_REMOVE = 2              # pid was reaped: forget it
    WD_RESET = 3               # forget everything (pid 0)
    WD_FAREWELL = 4            # + n, inode (2 ints), n bytes: write them to pid's stdin first
    WD_RELEASE = 5             # pid's stdin was closed here: no farewell any more
    WD_OP_BITS = 3
    WD_STUCK_AT = 1048576      # a watchdog that leaves this much unread is replaced

WATCHDOG_ADD_GROUP = WD_ADD_GROUP
WATCHDOG_ADD_PID = WD_ADD_PID
WATCHDOG_REMOVE = WD_REMOVE
WATCHDOG_RESET = WD_RESET
WATCHDOG_FAREWELL = WD_FAREWELL
WATCHDOG_RELEASE = WD_RELEASE
WATCHDOG_OP_BITS = WD_OP_BITS
WATCHDOG_INT_SIZE = sizeof(int)

cdef inline double monotonic() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


def monotonic_time():
    """CLOCK_MONOTONIC in seconds: the clock of the reactor's timers."""
    return monotonic()


def spawn_method():
    """How children are spawned: ``"clone3"`` (x86-64 Linux 5.5+: the
    kernel resets the child's signal handlers as it makes it, and returns
    its pidfd with its pid), or ``"posix_spawn"`` (elsewhere, or where the
    kernel or a seccomp filter refuses clone3: found at the first spawn,
    and kept). The child is the same either way (src_c/exo_spawn.c)."""
    return "clone3" if exo_spawn_method() else "posix_spawn"


def _set_spawn_method(str method):
    """Spawn through ``method`` (``"clone3"`` or ``"posix_spawn"``) from
    now on, so that tests cover both ways. OSError (ENOSYS) for clone3
    where this build has none."""
    cdef int rc
    if method not in ("clone3", "posix_spawn"):
        raise ValueError("spawn method must be 'clone3' or 'posix_spawn', not %r" % (method,))
    rc = exo_set_spawn_method(method == "clone3")
    if rc != 0:
        raise OSError(rc, os.strerror(rc))


def find_text(str text, str sub, Py_ssize_t start=0):
    """``text.find(sub, start)`` for ``start >= 0``, with libc's memmem when
    both strings store one byte per character (ASCII and Latin-1 text, what
    command output mostly is): over 256 KiB of lines, 16 us against 58 us
    for str.find and 115 us for re on a literal (expect() searches each
    chunk it reads for its pattern's literal prefix first;
    execo.regex_search)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), m = PyUnicode_GET_LENGTH(sub)
    cdef const char *base
    cdef const char *hit
    if start < 0:
        raise ValueError("start must be >= 0")
    if PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND or PyUnicode_KIND(sub) != PyUnicode_1BYTE_KIND:
        return text.find(sub, start)
    if start > n - m:
        return -1 if m or start > n else start
    if m == 0:
        return start
    base = <const char *>PyUnicode_DATA(text)
    # (the GIL is kept: 25 us per 256 KiB, less than a switch would cost)
    hit = <const char *>memmem(base + start, <size_t>(n - start), PyUnicode_DATA(sub), <size_t>m)
    return -1 if hit == NULL else hit - base


cdef inline char *_read_buffer(char *buf) except NULL:
    """``buf``, or a new READ_SIZE buffer for a serving thread's reads
    (malloc: a thread's stack may be small; after the first free, glibc
    serves this size from its heap). The caller frees it."""
    if buf == NULL:
        buf = <char *>malloc(READ_SIZE)
        if buf == NULL:
            raise MemoryError()
    return buf


cdef inline bint _open_stream(Child child) noexcept:
    """Whether one of the child's output streams is still open."""
    return (child.stdout_watch is not None and not child.stdout_watch.closed) or \
        (child.stderr_watch is not None and not child.stderr_watch.closed)


cdef inline int decode_status(int status) noexcept:
    if WIFEXITED(status):
        return WEXITSTATUS(status)
    if WIFSIGNALED(status):
        return -WTERMSIG(status)
    return status


cdef class Collector:
    """Bytes of one output stream, kept in one growing buffer.

    The reactor reads straight into it while ``keep`` and not
    ``notify``: no Python object per read.  With ``notify``, every read
    goes to the sink's ``_on_data`` instead (which may ``add()`` it), so
    that handlers see each byte exactly once, in order.

    ``nread`` counts the bytes read from the stream, kept or not (the
    records' ``stdout_bytes``/``stderr_bytes``).

    The buffer is the character array of a private ASCII ``str`` object:
    when the whole output turns out to be ASCII (the common case), the
    collected text is that object itself (:meth:`ascii_text`), without a
    decoding pass and without a second copy of the output in memory."""

    def __cinit__(self, bint keep=True):
        self.text = NULL
        self.shared = False
        self.ascii = True
        self.data = NULL
        self.size = 0
        self.cap = 0
        self.keep = keep
        self.notify = False
        self.nread = 0

    def __dealloc__(self):
        Py_XDECREF(self.text)

    cdef int reserve(self, size_t n) except -1:
        """Room for n more bytes (with the GIL: this may move data)."""
        cdef size_t ncap
        cdef PyObject *old
        if self.cap - self.size >= n and not self.shared:
            return 0
        if self.cap == 0:
            # the first piece added is often all there is (the host name
            # a remote echo printed): kept at its size, nothing to shrink at
            # eof. (Direct reads reserve COLLECT_READ as their first
            # piece: see _read_once.)
            ncap = n
        else:
            ncap = self.cap if self.cap > 65536 else 65536
        while ncap - self.size < n:
            ncap *= 2
        if self.text != NULL and not self.shared:
            # sole owner: grown in place (large blocks: mremap, no copy)
            _str_resize(&self.text, ncap)
        else:
            fresh = _str_new(ncap, 127)
            if self.size:
                memcpy(_str_data(fresh), self.data, self.size)
            old = self.text
            Py_INCREF(fresh)
            self.text = <PyObject *>fresh
            self.shared = False
            Py_XDECREF(old)
        self.data = <char *>_str_data(<object>self.text)
        self.cap = ncap
        return 0

    cdef int append(self, const char *p, size_t n) except -1:
        self.reserve(n)
        memcpy(self.data + self.size, p, n)
        if self.ascii and not exo_is_ascii(p, n):
            self.ascii = False
        self.size += n
        return 0

    def __len__(self):
        return self.size

    def add(self, data):
        """Append bytes (from the reactor thread: the reactor may be
        reading into this buffer)."""
        cdef const unsigned char[:] view
        if type(data) is bytes:
            # (every chunk the reactor delivers: no memoryview to make,
            # which cost more than the rest of a small chunk's delivery)
            if PyBytes_GET_SIZE(data):
                self.append(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
            return
        view = memoryview(data).cast("B")
        if view.shape[0]:
            self.append(<const char *>&view[0], view.shape[0])

    def shrink(self):
        """Give back the unused capacity (at eof, from the reactor
        thread)."""
        if self.text == NULL or self.shared or self.cap == self.size:
            return
        if self.size == 0:
            Py_CLEAR(self.text)
            self.data = NULL
            self.cap = 0
            return
        try:
            _str_resize(&self.text, self.size)
        except MemoryError:
            return
        self.data = <char *>_str_data(<object>self.text)
        self.cap = self.size

    def ascii_text(self):
        """All the bytes as a str, without copying them, when they are
        all ASCII and the buffer was shrunk to its size (at eof); else
        None.  The buffer is read-only afterwards: a later append copies
        it first."""
        if self.size == 0:
            return ""
        if self.text == NULL or not self.ascii or self.cap != self.size:
            return None
        self.shared = True
        return <object>self.text

    def getbytes(self, Py_ssize_t start=0, Py_ssize_t end=-1):
        """A copy of bytes[start:end] (end -1: up to the end)."""
        if end < 0 or <size_t>end > self.size:
            end = self.size
        if start < 0:
            start = 0
        if start >= end:
            return b""
        return PyBytes_FromStringAndSize(self.data + start, end - start)

    def decode_utf8(self, Py_ssize_t start, bint final):
        """(text, next_start): bytes[start:] decoded as UTF-8 with
        surrogateescape.  Unless final, an incomplete character at the end
        is left for the next call."""
        cdef Py_ssize_t consumed = 0
        cdef Py_ssize_t n
        if start < 0 or <size_t>start >= self.size:
            return "", self.size
        n = self.size - start
        if final:
            return PyUnicode_DecodeUTF8(self.data + start, n, "surrogateescape"), self.size
        text = PyUnicode_DecodeUTF8Stateful(self.data + start, n, "surrogateescape", &consumed)
        return text, start + consumed


cdef class TimerHandle:
    """A pending call, returned by :meth:`Reactor.call_later` (named as
    asyncio names it; not :class:`execo.Timer`, which measures elapsed
    time)."""

    def cancel(self):
        """Prevent the call if it has not run yet (thread-safe)."""
        self.cancelled = True
        self.callback = None
        self.args = None


cdef class FdWatch:

    def __dealloc__(self):
        exo_buf_free(&self.wbuf)


cdef class Child:

    def write(self, data):
        """Queue bytes for the child's stdin (thread-safe).

        Written at once as far as the pipe takes them, the rest by the
        reactor when the pipe is writable.  Returns 0, or the errno of a
        write error that happened right away (also reported to the sink
        through ``_on_write_error``)."""
        if self.stdin_watch is None or self.stdin_watch.closed or self.stdin_watch.close_when_drained:
            return EPIPE
        return self.reactor._write(self.stdin_watch, data)

    def close_stdin(self):
        """Close the child's stdin once the queued bytes are written."""
        if self.stdin_watch is not None:
            self.reactor._close_writer(self.stdin_watch)

    def close_streams(self):
        """Read what is left in stdout/stderr, then close them and report
        eof (thread-safe): for a child that exited while a grandchild keeps
        its pipes open."""
        self.reactor._in_loop_do(DO_CLOSE_STREAMS, self, None)

    def set_reading(self, int stream, bint on):
        """Stop (``on`` false) or resume reading stdout (1) or stderr (2)
        (thread-safe): backpressure for a consumer that lags behind.  The
        child blocks on a full pipe meanwhile; nothing is lost."""
        w = self.stdout_watch if stream == 1 else self.stderr_watch if stream == 2 else None
        if w is not None:
            self.reactor._in_loop_do(DO_SET_READING, w, on)

    def lend(self, int streams, bint reap, int wake_fd):
        """Take this child's ``streams`` (1 stdout, 2 stderr, 3 both) and,
        with ``reap``, its exit status away from the reactor: the calling
        thread serves them (:meth:`serve`) until :meth:`give_back`, and
        ``wake_fd`` (an eventfd, e.g. a :class:`Waker`'s; -1: none) ends
        its waits when the reactor needs them back. A thread that waits for
        the child this way needs no thread switch to learn of its output
        or its end.

        Returns how many fds were lent, or -1 when none can be (the poll()
        backend, the reactor thread, a stream the reactor is reading or
        another thread serves, backpressure, not registered yet, nothing
        left; without a pidfd the exit status stays the reactor's): wait
        for the reactor then."""
        return self.reactor._lend(self, streams, reap, wake_fd)

    def serve(self, double timeout):
        """Wait up to ``timeout`` seconds (< 0: no limit) for a lent fd or
        the wake fd, then handle what is ready as the reactor would (reads
        handed to the sink, eof, the exit status: the same calls in the
        same order). Returns how many fds were handled, 0 (timeout, woken,
        nothing there) or -1 when nothing is lent any more (all done, or
        given back to the reactor, which asked for them)."""
        return self.reactor._serve(self, timeout)

    def give_back(self, bint park=False):
        """Return what is still lent to the reactor (a no-op when nothing
        is). With ``park``, the streams stay out of the poll set for a few
        milliseconds more (``PARKED``), unread, for the next :meth:`lend`
        to take them over without waking the reactor (an interactive
        round trip: the reply often comes before the next expect()); then
        the reactor takes them back."""
        self.reactor._give_back_all(self, park)

    def unpark(self):
        """Hand to the reactor what of this child is still parked since
        ``Reactor.spawn(park=True)``, nobody having lent it (a no-op
        otherwise; what another thread has lent stays with it)."""
        self.reactor._unpark(self)

    def signal(self, int sig, bint group=False):
        """Send ``sig`` to the child (to its process group when ``group``).

        A no-op once the child is reaped, so a recycled pid is never
        signalled.  Returns 0 or an errno value."""
        cdef int r
        if self.reaped:
            return 0
        if group and self.own_group:
            r = killpg(self.pid, sig)
        elif self.pidfd >= 0:
            r = exo_pidfd_send_signal(self.pidfd, sig)
        else:
            r = kill(self.pid, sig)
        return errno if r < 0 else 0

    def __repr__(self):
        return "<Child pid=%d%s>" % (self.pid, " reaped" if self.reaped else "")


cdef class _WatchdogSink:
    """Reports the watchdog's exit to its reactor."""
    cdef Reactor reactor
    cdef Child child

    def _on_exit(self, int code):
        self.reactor._wd_exited(self.child, code)


cdef class Reactor:
    """The event loop: fds, children and timers (see the module doc)."""

    def __cinit__(self):
        self.epfd = -1
        self.wakefd = -1
        self.sigchld_rfd = -1
        self.sigchld_wfd = -1
        self.rbuf = NULL
        self.pfds = NULL

    def __init__(self, poller="auto", child_watcher="auto"):
        if poller not in ("auto", "epoll", "poll"):
            raise ValueError("poller must be 'auto', 'epoll' or 'poll', not %r" % (poller,))
        if child_watcher not in ("auto", "pidfd", "sigchld"):
            raise ValueError("child_watcher must be 'auto', 'pidfd' or 'sigchld', not %r" % (child_watcher,))
        self.watches = {}
        self.owned = set()
        self.sigchld_children = {}
        self.children = {}
        self.timers = []
        self.pending = []
        self.parked = []
        self.error_handler = None
        self.rbuf = <char *>malloc(READ_SIZE)
        if self.rbuf == NULL:
            raise MemoryError()
        if poller in ("auto", "epoll") and sys.platform.startswith("linux"):
            self.epfd = epoll_create1(EPOLL_CLOEXEC)
            if self.epfd < 0:
                raise OSError(errno, os.strerror(errno))
            self.poller = "epoll"
        else:
            self.poller = "poll"
        self.wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
        if self.wakefd < 0:
            raise OSError(errno, os.strerror(errno))
        self.wakefd = exo_fd_above_std(self.wakefd)
        self._add_watch(self._new_watch(self.wakefd, K_WAKE, 0, None, None), EPOLLIN)
        if child_watcher == "auto":
            fd = exo_pidfd_open(os.getpid())
            if fd >= 0:
                close(fd)
                child_watcher = "pidfd"
            else:
                child_watcher = "sigchld"
        self.child_watcher = child_watcher
        if child_watcher == "sigchld":
            self._install_sigchld()

    def __dealloc__(self):
        free(self.rbuf)
        free(self.pfds)

    # ---------------------------------------------------------------- setup

    cdef _install_sigchld(self):
        cdef int p[2]
        if self.sigchld_rfd >= 0:
            return
        if pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0:
            raise OSError(errno, os.strerror(errno))
        self.sigchld_rfd = exo_fd_above_std(p[0])
        self.sigchld_wfd = exo_fd_above_std(p[1])
        if exo_sigchld_install(self.sigchld_wfd) < 0:
            raise OSError(errno, os.strerror(errno))
        self._add_watch(self._new_watch(self.sigchld_rfd, K_SIGCHLD, 0, None, None), EPOLLIN)

    cdef FdWatch _new_watch(self, int fd, int kind, int stream, object sink, Child child):
        cdef FdWatch w = FdWatch.__new__(FdWatch)
        w.fd = fd
        w.kind = kind
        w.stream = stream
        w.sink = sink
        w.reactor = self
        w.child = child
        w.borrower_wake = -1
        self.watch_seq += 1
        if self.watch_seq == 0:
            self.watch_seq = 1
        w.ident = self.watch_seq
        exo_buf_init(&w.wbuf)
        self.owned.add(w)
        return w

    cdef int _add_watch(self, FdWatch w, unsigned int events) except -1:
        """Put w in the poll set (loop thread, or before the loop runs)."""
        cdef epoll_event ev
        w.events = events
        if self.epfd >= 0:
            ev.events = events
            # the fd, and which watch of it: an event harvested before the
            # fd was closed and reused (by another thread, or earlier in
            # the same batch) is not taken for the new watch's
            ev.data.u64 = (<unsigned long long>w.ident << 32) | <unsigned int>w.fd
            if epoll_ctl(self.epfd, EPOLL_CTL_ADD, w.fd, &ev) < 0:
                raise OSError(errno, os.strerror(errno))
        else:
            self.poll_dirty = True
        self.watches[w.fd] = w
        w.registered = True
        return 0

    cdef _del_watch(self, FdWatch w):
        cdef epoll_event ev
        if not w.registered:
            return
        if self.epfd >= 0:
            epoll_ctl(self.epfd, EPOLL_CTL_DEL, w.fd, &ev)
        else:
            self.poll_dirty = True
        if self.watches.get(w.fd) is w:
            del self.watches[w.fd]
        w.registered = False

    cdef _close_watch(self, FdWatch w):
        if self._defer_if_borrowed(w, DO_CLOSE_WATCH):
            return
        self._del_watch(w)
        if not w.closed:
            w.closed = True
            close(w.fd)
            if w.kind == K_WRITE and w.child is not None and w.child.farewell is not None \
                    and self.wd_watch is not None:
                # our end of its stdin is closed: the watchdog's must be too
                self._wd_note(w.child.pid, WD_RELEASE)
            # a closed watch calls no one again: dropping its sink and
            # child ends the cycle process -> child -> watch -> process,
            # so that a finished process is freed by its last reference,
            # not by the garbage collector (callers take the sink first)
            w.sink = None
            w.child = None
        self.owned.discard(w)
        exo_buf_free(&w.wbuf)

    cdef _set_reading(self, FdWatch w, bint on):
        w.paused = not on
        if w.closed or w.kind != K_READ or w.borrowed:
            # (a borrowed reader is put back, or not, when given back)
            return
        if w.paused and w.registered:
            self._del_watch(w)
        elif not w.paused and not w.registered:
            self._add_watch(w, EPOLLIN)

    # --------------------------------------------------------- thread hops

    cdef inline bint _in_loop(self) noexcept:
        return self.running and PyThread_get_thread_ident() == self.loop_thread

    cdef inline int _in_loop_do(self, int op, object a, object b) except -1:
        """Do ``op`` (a DO_* constant, arguments ``a`` and ``b``) in the
        loop thread: right now when called there (C calls only: no bound
        method, no tuple), else queued for the loop (thread-safe).  The
        one way the reactor's own code hops to its thread."""
        if self._in_loop():
            return self._do(op, a, b)
        self._queue(self._do_queued, (op, a, b))
        return 0

    def _do_queued(self, int op, a, b):
        self._do(op, a, b)

    cdef int _do(self, int op, object a, object b) except -1:
        """The loop thread's side of _in_loop_do."""
        cdef FdWatch w
        cdef Child child
        if op == DO_REGISTER_CHILD:
            self._register_child(<Child>a)
        elif op == DO_ADD_READER:
            w = <FdWatch>a
            if not w.closed and not w.paused and not w.registered and not w.borrowed:
                self._add_watch(w, EPOLLIN)
        elif op == DO_SET_READING:
            self._set_reading(<FdWatch>a, b)
        elif op == DO_WANT_WRITABLE:
            self._want_writable(<FdWatch>a)
        elif op == DO_WRITER_FAILED:
            self._writer_failed(<FdWatch>a, b)
        elif op == DO_CLOSE_WRITER:
            self._maybe_close_writer(<FdWatch>a)
        elif op == DO_CLOSE_WATCH:
            self._close_watch(<FdWatch>a)
        elif op == DO_DRAIN_AND_CLOSE:
            w = <FdWatch>a
            if not w.closed:
                self._drain_and_close(w)
        elif op == DO_CLOSE_STREAMS:
            child = <Child>a
            for w in (child.stdout_watch, child.stderr_watch):
                if w is not None and not w.closed:
                    self._drain_and_close(w)
        elif op == DO_WD_WANT_WRITABLE:
            w = self.wd_watch
            if w is not None and not w.closed and not w.registered and exo_buf_len(&w.wbuf) != 0:
                self._add_watch(w, EPOLLOUT)
        return 0

    def in_loop_thread(self):
        """True when called from the reactor thread."""
        return self._in_loop()

    def call_soon(self, callback, *args):
        """Run ``callback(*args)`` in the reactor thread (thread-safe)."""
        self._queue(callback, args)

    cdef _queue(self, callback, tuple args):
        self.pending.append((callback, args))
        self._wake_once()

    cdef _wake_once(self):
        """Wake the loop unless a wake is already on its way."""
        cdef unsigned long long one = 1
        if not self.wake_armed:
            self.wake_armed = True
            write(self.wakefd, &one, 8)

    def wake(self):
        """Wake the loop (thread-safe)."""
        cdef unsigned long long one = 1
        write(self.wakefd, &one, 8)

    cdef _run_pending(self):
        cdef unsigned long long v
        read(self.wakefd, &v, 8)
        self.wake_armed = False
        while self.pending:
            calls = self.pending
            self.pending = []
            for callback, args in calls:
                try:
                    callback(*args)
                except BaseException as e:
                    self._report(e)

    cdef _report(self, e):
        handler = self.error_handler
        if handler is not None:
            try:
                handler(e)
                return
            except BaseException:
                pass
        try:
            sys.stderr.write("execo reactor: unhandled %r\n" % (e,))
        except BaseException:
            pass

    # --------------------------------------------------------------- timers

    def call_later(self, double delay, callback, *args):
        """Run ``callback(*args)`` in the reactor thread after ``delay``
        seconds (monotonic clock).  Returns a :class:`TimerHandle` (thread-safe)."""
        cdef TimerHandle t = TimerHandle.__new__(TimerHandle)
        t.when = monotonic() + (delay if delay > 0 else 0.0)
        t.callback = callback
        t.args = args
        self._push_timer(t)
        if not self._in_loop() and self.timers[0][2] is t:
            # the loop may sleep past this new earliest timer: wake it.
            # The heap itself needs no hop to the loop: every touch of it
            # holds the GIL, and the loop computes its timeout from it
            # after each wake (kill() arms a timer from the caller's
            # thread: 2,000 kills were 2,000 queued calls in the loop)
            self._wake_once()
        return t

    cdef _push_timer(self, TimerHandle t):
        if not t.cancelled:
            self.timer_seq += 1
            heapq.heappush(self.timers, (t.when, self.timer_seq, t))

    cdef int _next_timeout_ms(self):
        cdef double d
        cdef TimerHandle t
        while self.timers:
            t = self.timers[0][2]
            if t.cancelled:
                heapq.heappop(self.timers)
                continue
            d = t.when - monotonic()
            if d <= 0:
                return 0
            return <int>(d * 1000.0) + 1
        return -1

    cdef _run_timers(self):
        cdef double now = monotonic()
        cdef TimerHandle t
        while self.timers and self.timers[0][0] <= now:
            t = heapq.heappop(self.timers)[2]
            if t.cancelled:
                continue
            callback, args = t.callback, t.args
            t.cancelled = True
            t.callback = t.args = None
            try:
                callback(*args)
            except BaseException as e:
                self._report(e)

    # ------------------------------------------------------------- children

    def spawn(self, argv, int flags, sink, bint want_stdin=True, Collector stdout=None,
              Collector stderr=None, farewell=None, bint park=False):
        """Start a child (callable from any thread) and watch it.

        ``argv`` is a sequence of bytes; ``flags`` the SPAWN_* constants.
        Returns a :class:`Child`; raises ``OSError`` when the child could
        not be started (exec errors included).  The child's stdout and
        stderr are read and its exit watched by the reactor thread, which
        reports them to ``sink``.  ``stdout`` and ``stderr`` are optional
        :class:`Collector` objects for the two streams.  ``farewell``
        (bytes, for a child with a stdin pipe) is what the watchdog writes
        to the child's stdin, if still open, when this process is gone.
        ``park``: the calling thread waits for the child at once
        (``Process.run``): its stdout, stderr and exit start parked, out
        of the poll set and unread, for that wait's :meth:`Child.lend` to
        take them over without putting them in the poll set and taking
        them out again (six ``epoll_ctl`` and the loop's bookkeeping a
        run). Nobody polls them until the caller lends them or hands
        them to the reactor with :meth:`Child.unpark` (a lend that fails
        does that too): the caller must do one or the other. With the
        poll() backend or no pidfd, ``park`` changes nothing."""
        cdef Py_ssize_t n = len(argv), i
        cdef char **cargv = <char **>malloc((n + 1) * sizeof(char *))
        cdef exo_child c
        cdef int rc
        cdef Child child
        cdef stat st
        if cargv == NULL:
            raise MemoryError()
        if self.wd_watch is None and self.watchdog_starter is not None:
            try:
                self.watchdog_starter(self)
            except BaseException as e:
                self._report(e)
        try:
            args = [bytes(a) for a in argv]
            for i in range(n):
                cargv[i] = PyBytes_AS_STRING(args[i])
            cargv[n] = NULL
            if self.child_watcher == "pidfd" and not self._fd_table_crowded():
                flags |= EXO_SPAWN_PIDFD
            if not want_stdin:
                flags |= EXO_SPAWN_NO_STDIN
            with nogil:
                rc = exo_spawn(cargv, flags, &c)
        finally:
            free(cargv)
        if rc != 0:
            raise OSError(rc, os.strerror(rc))
        self.last_child_fd = max(c.stdout_fd, c.stderr_fd, c.pidfd)
        child = Child.__new__(Child)
        child.pid = c.pid
        child.pidfd = c.pidfd
        child.stdin_fd = c.stdin_fd
        child.stdout_fd = c.stdout_fd
        child.stderr_fd = c.stderr_fd
        child.pty = (flags & EXO_SPAWN_PTY) != 0
        child.own_group = (flags & (EXO_SPAWN_PTY | EXO_SPAWN_NEW_SESSION | EXO_SPAWN_NEW_PGROUP)) != 0
        child.sink = sink
        child.reactor = self
        if farewell and c.stdin_fd >= 0 and not child.pty and fstat(c.stdin_fd, &st) == 0:
            child.farewell = bytes(farewell)
            child.stdin_ino = st.st_ino
        if c.stdin_fd >= 0:
            child.stdin_watch = self._new_watch(c.stdin_fd, K_WRITE, 0, sink, child)
        if c.stdout_fd >= 0:
            child.stdout_watch = self._new_watch(c.stdout_fd, K_READ, 1, sink, child)
            child.stdout_watch.collector = stdout
        if c.stderr_fd >= 0:
            child.stderr_watch = self._new_watch(c.stderr_fd, K_READ, 2, sink, child)
            child.stderr_watch.collector = stderr
        self.children[child.pid] = child
        if self.wd_watch is not None:
            # at once: a child the watchdog does not know would survive us
            self._wd_announce(child)
            self._wd_flush()
        if self.epfd >= 0 and child.pidfd >= 0 and self.running:
            # epoll, reaped through its pidfd: the epoll_ctl calls are made
            # here (the kernel allows it; the GIL orders the watches with
            # the loop), sparing the loop a wake-up per spawn
            self._register_child(child, park)
        else:
            self._in_loop_do(DO_REGISTER_CHILD, child, None)
        return child

    def spawn_fd_cost(self, bint want_stdin=True):
        """How many fds of this process a child spawned now holds while it
        runs: its stdin (unless ``want_stdin`` is false), stdout and stderr
        pipes (with a pty: the master twice and the stderr pipe), and its
        pidfd unless it is reaped through SIGCHLD (the SIGCHLD watcher, or
        a crowded fd table).  The start queue (:mod:`execo.start_queue`)
        counts these against the fd limit."""
        cdef int cost = 3 if want_stdin else 2
        if self.child_watcher == "pidfd" and not self._fd_table_crowded():
            cost += 1
        return cost

    cdef bint _fd_table_crowded(self):
        """True when the fd table is more than 3/4 full (the kernel hands
        out the lowest free fd, so the last child's fds tell how full it
        is).  Children spawned then are reaped through SIGCHLD instead of a
        pidfd: 3 fds each instead of 4, and room is left for the fds of the
        application itself."""
        cdef rlimit rl
        if self.last_child_fd < 768:
            return False
        if getrlimit(RLIMIT_NOFILE, &rl) != 0 or rl.rlim_cur == RLIM_INFINITY:
            return False
        return <rlim_t>self.last_child_fd >= rl.rlim_cur // 4 * 3

    cdef _register_child(self, Child child, bint park=False):
        """Watch a new child: its readers (unless paused) and its pidfd in
        the poll set, or its pid among those reaped through SIGCHLD. With
        ``park`` (spawn(park=True): epoll, a pidfd, the loop running) the
        readers and the pidfd watch are parked instead, out of the poll
        set, for the spawning thread's lend to take over. Not in
        ``self.parked``: no timer takes them back (arming one woke the loop
        every PARKED of a run() loop, and cost as much as the epoll_ctl
        calls saved); the caller's lend or unpark does (spawn's
        docstring)."""
        cdef FdWatch w
        if child.pidfd >= 0:
            child.pidfd_watch = self._new_watch(child.pidfd, K_PIDFD, 0, child.sink, child)
        for w in (child.stdout_watch, child.stderr_watch, child.pidfd_watch):
            if w is None or w.paused or w.registered:
                continue
            if park:
                w.borrowed = True
                w.parked = True
            else:
                self._add_watch(w, EPOLLIN)
        if child.pidfd < 0:
            # no pidfd (not supported, or the fd limit was hit opening it)
            if self.sigchld_rfd < 0:
                self._install_sigchld()
            self.sigchld_children[child.pid] = child
            # it may have exited before SIGCHLD was watched
            self._try_reap(child, self.rbuf if self._in_loop() else NULL)

    cdef _unpark(self, Child child):
        """Child.unpark, and a lend that failed: what of ``child`` is
        parked goes back to the poll set now, the reactor's again."""
        cdef FdWatch w
        for w in (child.stdout_watch, child.stderr_watch, child.pidfd_watch):
            if w is not None and w.parked:
                w.parked = False
                self._give_back(w)

    cdef bint _try_reap(self, Child child, char *rbuf) except -1:
        """Reap ``child`` if it exited: its pipes drained first
        (``_drain_at_exit``, into ``rbuf``, READ_SIZE bytes, or NULL: not
        drained), then ``sink._on_exit``."""
        cdef int status = 0
        cdef pid_t r
        if child.reaped:
            return True
        r = waitpid(child.pid, &status, WNOHANG)
        if r == 0:
            return False
        child.reaped = True
        if rbuf != NULL:
            try:
                self._drain_at_exit(child, rbuf)
            except BaseException as e:   # (MemoryError): the exit still goes
                self._report(e)
        if self.children.pop(child.pid, None) is not None and self.wd_watch is not None:
            self._wd_note(child.pid, WD_REMOVE)   # written at the end of the loop iteration
        self.sigchld_children.pop(child.pid, None)
        code = decode_status(status) if r == child.pid else -1   # ECHILD: somebody else reaped it
        sink = child.sink
        child.sink = None
        try:
            sink._on_exit(code)
        except BaseException as e:
            self._report(e)
        return True

    cdef _drain_at_exit(self, Child child, char *rbuf):
        """The child just exited: read what it left in its pipes, up to
        their eof when nothing else holds them open, so that its exit finds
        them closed and its process ends in this one step. Otherwise an
        exit seen before an eof (most exits a busy loop sees: the last
        read of a stream took its data, not yet its eof) ends the process
        on a later poll, after arming a grace timer, which a waiting
        thread must also wake the loop to arm. The eofs need these reads
        anyway. Only the streams this thread may read: the loop's own, or
        those lent to this thread; never a paused one (backpressure)."""
        cdef FdWatch w
        cdef bint in_loop = self._in_loop()
        for w in (child.stdout_watch, child.stderr_watch):
            if w is None or w.closed or w.paused or w.reading or w.deferred != 0:
                continue
            if w.borrowed:
                if w.borrower != PyThread_get_thread_ident():
                    continue
            elif w.parked or not w.registered or not in_loop:
                continue
            self._read_all(w, rbuf, MAX_READS)

    cdef _on_sigchld(self):
        cdef char buf[256]
        while read(self.sigchld_rfd, buf, sizeof(buf)) > 0:
            pass
        for child in list(self.sigchld_children.values()):
            self._try_reap(<Child>child, self.rbuf)

    def live_children(self):
        """Children not yet reaped (a list of :class:`Child`)."""
        return list(self.children.values())

    # -------------------------------------------------------------- watchdog

    def start_watchdog(self, argv):
        """Start the watchdog (callable from any thread; see the module
        doc): ``argv`` is a sequence of bytes, ``argv[0]`` a path.  The
        live children are announced at once, later ones as they are
        spawned and reaped.  The watchdog is not one of
        :meth:`live_children`; it is reaped when it exits, and then
        ``watchdog_exit_handler(pid, code)`` is called.  Returns its pid
        (that of the running one if there is one); raises ``OSError``."""
        cdef Py_ssize_t n = len(argv), i
        cdef char **cargv
        cdef pid_t pid
        cdef int wfd, rc
        cdef Child child
        cdef _WatchdogSink sink
        if self.wd_watch is not None:
            return self.wd_child.pid
        args = [bytes(a) for a in argv]
        if n == 0:
            raise ValueError("empty watchdog argv")
        cargv = <char **>malloc((n + 1) * sizeof(char *))
        if cargv == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                cargv[i] = PyBytes_AS_STRING(args[i])
            cargv[n] = NULL
            with nogil:
                rc = exo_spawn_detached(cargv, &pid, &wfd)
        finally:
            free(cargv)
        if rc != 0:
            raise OSError(rc, os.strerror(rc))
        child = Child.__new__(Child)
        child.pid = pid
        child.pidfd = exo_pidfd_open(pid) if self.child_watcher == "pidfd" else -1
        child.stdin_fd = child.stdout_fd = child.stderr_fd = -1
        child.own_group = True
        child.reactor = self
        sink = _WatchdogSink.__new__(_WatchdogSink)
        sink.reactor = self
        sink.child = child
        child.sink = sink
        if self.wd_watch is not None:
            # another thread was faster (the GIL was released): this one
            # reads end of file, knows no child, exits; reap it
            close(wfd)
            self._in_loop_do(DO_REGISTER_CHILD, child, None)
            return self.wd_child.pid
        self.wd_watch = self._new_watch(wfd, K_WDPIPE, 0, None, child)
        self.wd_child = child
        for c in self.children.values():
            self._wd_announce(<Child>c)
        self._wd_flush()
        self._in_loop_do(DO_REGISTER_CHILD, child, None)
        return pid

    def flush_watchdog(self):
        """Write the queued records now, as far as the pipe takes them (any
        thread; the loop does it at the end of each iteration)."""
        self._wd_flush()

    @property
    def watchdog_pid(self):
        """The pid of the running watchdog, or 0."""
        return self.wd_child.pid if self.wd_watch is not None and self.wd_child is not None else 0

    cdef int _wd_note(self, pid_t pid, int op) except -1:
        """Queue one record for the watchdog (GIL held)."""
        cdef int rec = (<int>pid << WD_OP_BITS) | op
        if exo_buf_append(&self.wd_watch.wbuf, <const char *>&rec, sizeof(int)) < 0:
            raise MemoryError()
        return 0

    cdef int _wd_announce(self, Child child) except -1:
        """Queue what the watchdog must know of a live child."""
        cdef int head[4]
        cdef int zero = 0
        cdef const char *p
        cdef Py_ssize_t n
        self._wd_note(child.pid, WD_ADD_GROUP if child.own_group else WD_ADD_PID)
        if child.farewell is None or child.stdin_watch is None or child.stdin_watch.closed \
                or child.stdin_watch.close_when_drained:
            return 0
        p = PyBytes_AS_STRING(child.farewell)
        n = PyBytes_GET_SIZE(child.farewell)
        head[0] = (<int>child.pid << WD_OP_BITS) | WD_FAREWELL
        head[1] = <int>n
        head[2] = <int>(child.stdin_ino & 0xffffffffULL)
        head[3] = <int>((child.stdin_ino >> 32) & 0xffffffffULL)
        if exo_buf_append(&self.wd_watch.wbuf, <const char *>head, sizeof(head)) < 0 or \
           exo_buf_append(&self.wd_watch.wbuf, p, n) < 0 or \
           exo_buf_append(&self.wd_watch.wbuf, <const char *>&zero,
                          (sizeof(int) - n % sizeof(int)) % sizeof(int)) < 0:
            raise MemoryError()
        return 0

    cdef _wd_flush(self):
        """Write the queued records as far as the pipe takes them now (any
        thread, GIL held); the rest when the pipe is writable."""
        cdef FdWatch w = self.wd_watch
        cdef Py_ssize_t r
        cdef size_t n
        if w is None or w.closed:
            return
        n = exo_buf_len(&w.wbuf)
        if n != 0:
            r = write(w.fd, exo_buf_head(&w.wbuf), n)
            if r < 0:
                if errno != EAGAIN and errno != EINTR:
                    self._wd_lost()
                    return
                r = 0
            exo_buf_consume(&w.wbuf, r)
            n = exo_buf_len(&w.wbuf)
        if n == 0:
            if w.registered and self._in_loop():
                self._del_watch(w)
            return
        if n >= WD_STUCK_AT:
            self._wd_stuck()
            return
        if not w.registered:
            self._in_loop_do(DO_WD_WANT_WRITABLE, None, None)

    cdef _wd_stuck(self):
        """The watchdog leaves everything unread (stopped?): kill it before
        closing its pipe (it must not read end of file and kill our
        children); it is reaped like any exit."""
        if self.wd_child is not None:
            self.wd_child.signal(9)
        self._wd_lost()

    cdef _wd_lost(self):
        """The watchdog's pipe broke (it exited): drop it.  The process is
        reaped through its Child; a new watchdog starts at the next spawn."""
        cdef FdWatch w = self.wd_watch
        self.wd_watch = None
        if w is None:
            return
        exo_buf_free(&w.wbuf)
        self._in_loop_do(DO_CLOSE_WATCH, w, None)

    def _wd_exited(self, Child child, int code):
        if child is self.wd_child:
            self.wd_child = None
            self._wd_lost()
        handler = self.watchdog_exit_handler
        if handler is not None:
            handler(child.pid, code)

    # ------------------------------------------------------------ fd watches

    def add_reader(self, int fd, sink, int stream, Collector collector=None):
        """Read ``fd`` (non-blocking, owned and closed by the reactor from now
        on), into ``collector`` when given, reporting to ``sink._on_data``
        / ``sink._on_eof``.  Returns a :class:`Reader` (to stop reading)."""
        w = self._new_watch(fd, K_READ, stream, sink, None)
        w.collector = collector
        self._in_loop_do(DO_ADD_READER, w, None)
        r = Reader.__new__(Reader)
        (<Reader>r).watch = w
        return r

    def writer(self, int fd, sink, int stream):
        """A :class:`Writer` for ``fd`` (non-blocking, owned by the reactor)."""
        w = Writer.__new__(Writer)
        (<Writer>w).watch = self._new_watch(fd, K_WRITE, stream, sink, None)
        return w

    cdef int _write(self, FdWatch w, data) except -1:
        """Write now as far as possible; queue the rest for the loop."""
        cdef const char *p
        cdef Py_ssize_t n, r
        if isinstance(data, str):
            raise TypeError("write() needs bytes, not str")
        data = bytes(data)
        p = PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
        if n == 0:
            return 0
        if exo_buf_len(&w.wbuf) == 0:
            r = write(w.fd, p, n)
            if r < 0:
                if errno != EAGAIN and errno != EINTR:
                    err = errno
                    self._writer_failed_soon(w, err)
                    return err
                r = 0
            p += r
            n -= r
            if n == 0:
                return 0
        if exo_buf_append(&w.wbuf, p, n) < 0:
            raise MemoryError()
        self._in_loop_do(DO_WANT_WRITABLE, w, None)
        return 0

    cdef _writer_failed_soon(self, FdWatch w, int err):
        exo_buf_free(&w.wbuf)
        w.close_when_drained = True
        self._in_loop_do(DO_WRITER_FAILED, w, err)

    cdef _writer_failed(self, FdWatch w, int err):
        if w.closed:
            return
        sink = w.sink
        self._close_watch(w)
        if sink is not None:
            try:
                sink._on_write_error(w.stream, err)
            except BaseException as e:
                self._report(e)

    cdef _want_writable(self, FdWatch w):
        if w.closed or w.registered or exo_buf_len(&w.wbuf) == 0:
            return
        self._add_watch(w, EPOLLOUT)

    cdef _close_writer(self, FdWatch w):
        if not w.close_when_drained and not w.closed and not w.registered and not w.borrowed \
                and exo_buf_len(&w.wbuf) == 0 and not self._in_loop():
            # nothing queued, nothing polled, no failure on its way to the
            # loop (that sets close_when_drained): close it here, GIL held as
            # in the loop, rather than wake the loop for it (a process that
            # ends in a waiting thread: one loop wake-up less per run())
            w.close_when_drained = True
            self._close_watch(w)
            return
        w.close_when_drained = True
        self._in_loop_do(DO_CLOSE_WRITER, w, None)

    cdef _maybe_close_writer(self, FdWatch w):
        if not w.closed and exo_buf_len(&w.wbuf) == 0:
            self._close_watch(w)

    cdef _on_writable(self, FdWatch w):
        cdef Py_ssize_t r
        cdef size_t n = exo_buf_len(&w.wbuf)
        if n > 0:
            # GIL held: other threads append to this buffer
            r = write(w.fd, exo_buf_head(&w.wbuf), n)
            if r < 0:
                if errno == EAGAIN or errno == EINTR:
                    return
                self._writer_failed(w, errno)
                return
            exo_buf_consume(&w.wbuf, r)
        if exo_buf_len(&w.wbuf) == 0:
            if w.close_when_drained:
                self._close_watch(w)
            else:
                self._del_watch(w)

    cdef int _on_readable(self, FdWatch w, char *rbuf) except -1:
        """Read while the fd fills whole reads (a fast writer), at most
        MAX_READS times, then let other fds have their turn.  ``rbuf``
        (READ_SIZE bytes): the loop's own, or a serving thread's."""
        cdef int r = READ_FULL
        cdef int k = 0
        while r == READ_FULL and k < MAX_READS and not w.closed and not w.paused:
            r = self._read_once(w, rbuf, READ_SIZE)
            k += 1
        return r

    cdef _on_pidfd(self, FdWatch w, char *rbuf):
        """The child's pidfd is readable: it exited; reap it (``rbuf``:
        see ``_try_reap``)."""
        cdef Child child = w.child
        self._close_watch(w)
        child.pidfd = -1
        child.pidfd_watch = None
        if not self._try_reap(child, rbuf):
            # should not happen: a readable pidfd means it exited
            self.sigchld_children[child.pid] = child
            if self.sigchld_rfd < 0:
                self._install_sigchld()

    cdef int _read_once(self, FdWatch w, char *rbuf, size_t rsize) except -1:
        """One read: READ_FULL, READ_PARTIAL, READ_EMPTY or READ_CLOSED
        (eof or error, reported to the sink, fd closed).  Chunks for the
        sink are read into ``rbuf`` (``rsize`` bytes): the loop's
        ``self.rbuf``, or a serving thread's own buffer."""
        cdef Py_ssize_t r
        cdef int err = 0
        cdef int fd = w.fd
        cdef Collector col = w.collector
        cdef char *dst
        cdef size_t want
        cdef bint asc = True
        if col is not None and col.keep and not col.notify and (
                col.cap == 0 or col.size >= COLLECT_SMALL or col.cap - col.size >= COLLECT_SMALL):
            col.reserve(COLLECT_READ)
            dst = col.data + col.size
            want = col.cap - col.size
        else:
            # (also a collector holding a few bytes added while it notified,
            # and no room: an ssh's output while a refusal was possible.
            # Reserving COLLECT_READ there grew it to 2 MiB, an mmap, then
            # an mremap at eof with its TLB shootdown, per process, for its
            # last read; appended from rbuf, it grows as it fills, and is
            # read into directly again past COLLECT_SMALL)
            dst = rbuf
            want = rsize
        w.reading = True    # (no caller may borrow it meanwhile: Child.lend)
        with nogil:
            r = read(fd, dst, want)
            if r < 0:
                err = errno
            elif r > 0 and dst != rbuf and col.ascii:
                asc = exo_is_ascii(dst, r)
        w.reading = False
        if r > 0:
            if col is not None:
                col.nread += r
            if dst == rbuf:
                if col is not None and col.keep and not col.notify:
                    col.append(dst, r)     # a small one (above), or notify switched off meanwhile
                elif col is None or col.notify:
                    self._deliver(w, dst, r)
            elif col.notify:
                # a handler was attached during the read: this chunk is
                # not collected yet, hand it over like any notified chunk
                self._deliver(w, dst, r)
            else:
                col.size += r
                if not asc:
                    col.ascii = False
            if r >= PIPE_FULL and not w.pipe_grown:
                w.pipe_grown = True
                fcntl(fd, F_SETPIPE_SZ, <int>BIG_PIPE)   # best effort
            return READ_FULL if <size_t>r == want or r >= PIPE_FULL else READ_PARTIAL
        if r < 0:
            if err == EAGAIN or err == EINTR:
                return READ_EMPTY
            if err == EIO:       # pty master once the slave side is gone
                err = 0
        sink = w.sink
        self._close_watch(w)
        try:
            sink._on_eof(w.stream, err)
        except BaseException as e:
            self._report(e)
        return READ_CLOSED

    cdef _deliver(self, FdWatch w, const char *p, Py_ssize_t n):
        data = PyBytes_FromStringAndSize(p, n)
        try:
            w.sink._on_data(w.stream, data)
        except BaseException as e:
            self._report(e)

    cdef int _read_all(self, FdWatch w, char *rbuf, int max_reads) except -1:
        """Read until nothing is left right now (EAGAIN), the eof (the
        watch closed) or ``max_reads`` reads."""
        cdef int r = READ_FULL
        cdef int k = 0
        while (r == READ_FULL or r == READ_PARTIAL) and k < max_reads and not w.closed:
            r = self._read_once(w, rbuf, READ_SIZE)
            k += 1
        return 0

    cdef _drain_and_close(self, FdWatch w):
        """Read until nothing is left right now, then close and report eof."""
        if self._defer_if_borrowed(w, DO_DRAIN_AND_CLOSE):
            return
        self._read_all(w, self.rbuf, 4096)
        if not w.closed:
            sink = w.sink
            self._close_watch(w)
            try:
                sink._on_eof(w.stream, 0)
            except BaseException as e:
                self._report(e)

    # ------------------------------------------------------ borrowed readers

    cdef int _lend(self, Child child, int streams, bint reap, int wake_fd) except -2:
        """Child.lend: the calling thread borrows the child's readers and
        pidfd watch (``borrowed``, out of the poll set: ``epoll_ctl`` from
        this thread, which the kernel allows). The GIL orders it with the
        loop: a reader the loop is in a read() of (``reading``) is not
        lent; a lent one is neither read nor closed by the loop
        (``_defer_if_borrowed``), which wakes the borrower to get it back.
        Parked watches are taken over; when nothing can be lent, they go
        back to the reactor at once (the caller waits for it)."""
        cdef int n = self._lend_watches(child, streams, reap, wake_fd)
        if n < 0:
            self._unpark(child)
        return n

    cdef int _lend_watches(self, Child child, int streams, bint reap, int wake_fd) except -2:
        cdef FdWatch w
        cdef int k
        if self.epfd < 0 or not self.running or self._in_loop() or child.lent is not None:
            return -1
        if self.busy:
            # the loop is going through a batch of events (many children
            # ending at once): it does this one too; a waiting thread
            # serving beside it would only trade the GIL back and forth
            return -1
        lent = []
        for k in (1, 2):
            if streams & k:
                w = child.stdout_watch if k == 1 else child.stderr_watch
                if w is None or w.closed:
                    continue
                if w.parked:
                    lent.append(w)     # left by the last expect(): taken over
                    continue
                if w.paused or w.borrowed or w.reading or not w.registered:
                    return -1
                lent.append(w)
        if reap and not child.reaped and child.pidfd_watch is not None:
            # (without a pidfd, the loop reaps it through SIGCHLD)
            w = child.pidfd_watch
            if w.parked:
                lent.append(w)         # parked at spawn: taken over
            elif w.borrowed or not w.registered:
                return -1
            elif not w.closed:
                lent.append(w)
        if not lent:
            return -1
        for w in lent:
            w.parked = False
            w.borrowed = True
            w.borrower_wake = wake_fd
            w.borrower = PyThread_get_thread_ident()
            self._del_watch(w)
        child.lent = lent
        return len(lent)

    cdef int _return_wanted(self, Child child) except -1:
        """Give back the lent watches the loop asked for (a deferred close
        or drain) or that backpressure paused; forget the closed ones."""
        cdef FdWatch w
        lent = child.lent
        for w in list(lent):
            if w.closed:
                lent.remove(w)
            elif w.deferred != 0 or w.paused:
                lent.remove(w)
                self._give_back(w)
        if not lent:
            child.lent = None
        return 0

    cdef int _serve(self, Child child, double timeout) except -2:
        """Child.serve: poll the lent fds (GIL released) and handle what is
        ready exactly as the loop does: ``_read_once`` while reads come
        back full (into a buffer of this call's, or straight into a
        collector that only collects), ``_close_watch`` + ``sink._on_eof``,
        ``_try_reap`` + ``sink._on_exit``."""
        cdef pollfd fds[4]
        cdef char *buf = NULL
        cdef int pr = 0
        cdef int nfds, ms, i
        cdef int handled = 0
        cdef int wake_fd = -1
        cdef FdWatch w
        if child.lent is None:
            return -1
        self._return_wanted(child)
        if child.lent is None:
            return -1
        lent = list(child.lent)
        nfds = len(lent)
        for i in range(nfds):
            w = lent[i]
            wake_fd = w.borrower_wake
            fds[i].fd = w.fd
            fds[i].events = POLLIN
            fds[i].revents = 0
        if wake_fd >= 0:
            fds[nfds].fd = wake_fd
            fds[nfds].events = POLLIN
            fds[nfds].revents = 0
        if timeout < 0:
            ms = -1
        elif timeout >= 86400.0:
            ms = 86400000
        else:
            ms = <int>(timeout * 1000.0 + 0.999)
        with nogil:
            pr = poll(fds, nfds + (1 if wake_fd >= 0 else 0), ms)
        try:
            for i in range(nfds if pr > 0 else 0):
                if fds[i].revents == 0:
                    continue
                w = lent[i]
                if w.closed or w.deferred != 0:
                    continue
                if w.kind == K_PIDFD:
                    if _open_stream(w.child):
                        buf = _read_buffer(buf)   # (for _drain_at_exit; NULL: no drain)
                    self._on_pidfd(w, buf)
                    self._wd_flush()   # (the loop flushes at the end of its iteration)
                    handled += 1
                    continue
                buf = _read_buffer(buf)
                if self._on_readable(w, buf) != READ_EMPTY:
                    handled += 1
        finally:
            free(buf)
            if child.lent is not None:
                self._return_wanted(child)
        return handled

    cdef _give_back_all(self, Child child, bint park):
        cdef FdWatch w
        cdef double now = monotonic()
        cdef bint parked = False
        lent = child.lent
        child.lent = None
        if lent is None:
            return
        for w in lent:
            if not w.borrowed or w.closed:
                continue
            if park and w.kind == K_READ and w.deferred == 0 and not w.paused:
                # out of the poll set a little longer, for the next lend
                w.parked = True
                w.parked_at = now
                w.borrower_wake = -1
                w.borrower = 0
                self.parked.append(w)
                parked = True
            else:
                self._give_back(w)
        if parked and not self.park_armed:
            self.park_armed = True
            self.call_later(PARKED, self._take_back_parked)

    def _take_back_parked(self):
        """Loop timer: the streams parked for PARKED and not taken over
        go back in the poll set (one timer at a time while any is parked)."""
        cdef FdWatch w
        cdef double now = monotonic()
        cdef double oldest = now
        keep = []
        for w in self.parked:
            if not w.parked:
                continue
            if now - w.parked_at >= PARKED * 0.9 or w.closed:
                w.parked = False
                self._give_back(w)
            else:
                keep.append(w)
                if w.parked_at < oldest:
                    oldest = w.parked_at
        self.parked = keep
        if keep:
            self.call_later(oldest + PARKED - now, self._take_back_parked)
        else:
            self.park_armed = False

    cdef _give_back(self, FdWatch w):
        """End of a borrow: do what the loop deferred meanwhile, or put the
        reader back in the poll set (from the borrowing thread, GIL held)."""
        cdef int op = w.deferred
        w.borrowed = False
        w.borrower_wake = -1
        w.deferred = 0
        if op != 0:
            self._in_loop_do(op, w, None)
        elif not w.closed and not w.paused and not w.registered:
            self._add_watch(w, EPOLLIN)

    cdef bint _defer_if_borrowed(self, FdWatch w, int op):
        """Loop side: a borrowed reader is not closed or drained under its
        borrower; ``op`` runs when it is given back (a drain wins over a
        plain close: nothing readable is lost), and the borrower is woken
        to give it back soon."""
        cdef unsigned long long one = 1
        if not w.borrowed or w.borrower == PyThread_get_thread_ident():
            return False
        if w.parked:
            # nobody polls it: the loop takes it back and goes on
            w.parked = False
            w.borrowed = False
            return False
        if w.deferred != DO_DRAIN_AND_CLOSE:
            w.deferred = op
        if w.borrower_wake >= 0:
            write(w.borrower_wake, &one, 8)
        return True

    cdef _dispatch(self, int fd, unsigned int ident, unsigned int revents):
        cdef FdWatch w = self.watches.get(fd)
        if w is None or w.borrowed or (ident != 0 and w.ident != ident):
            return     # (an event harvested before a caller borrowed it, or stale)
        if w.kind == K_READ:
            self._on_readable(w, self.rbuf)
        elif w.kind == K_WRITE:
            self._on_writable(w)
        elif w.kind == K_PIDFD:
            self._on_pidfd(w, self.rbuf)
        elif w.kind == K_WAKE:
            self._run_pending()
        elif w.kind == K_SIGCHLD:
            self._on_sigchld()
        elif w.kind == K_WDPIPE:
            if w is self.wd_watch:
                self._wd_flush()
            else:
                self._close_watch(w)

    # ------------------------------------------------------------------ loop

    def run(self):
        """Run the loop in the calling thread until :meth:`stop`."""
        cdef epoll_event events[MAX_EVENTS]
        cdef int n, i, timeout_ms
        self.loop_thread = PyThread_get_thread_ident()
        self.running = True
        try:
            while not self.stopping:
                timeout_ms = self._next_timeout_ms()
                if self.epfd >= 0:
                    with nogil:
                        n = epoll_wait(self.epfd, events, MAX_EVENTS, timeout_ms)
                    if n < 0:
                        if errno != EINTR:
                            raise OSError(errno, os.strerror(errno))
                        n = 0
                    # several at once: the loop is busy (see _lend)
                    self.busy = n > 1
                    for i in range(n):
                        self._dispatch(<int>(events[i].data.u64 & 0xffffffffULL),
                                       <unsigned int>(events[i].data.u64 >> 32), events[i].events)
                    self.busy = False
                else:
                    self._poll_once(timeout_ms)
                self._run_timers()
                if self.wd_watch is not None and exo_buf_len(&self.wd_watch.wbuf) != 0 \
                        and not self.wd_watch.registered:
                    self._wd_flush()
        finally:
            self.running = False

    cdef _poll_once(self, int timeout_ms):
        cdef int n, i
        cdef Py_ssize_t k
        cdef FdWatch w
        if self.poll_dirty:
            k = len(self.watches)
            if k > self.pfds_cap:
                free(self.pfds)
                self.pfds = <pollfd *>malloc(k * 2 * sizeof(pollfd))
                if self.pfds == NULL:
                    self.pfds_cap = 0
                    raise MemoryError()
                self.pfds_cap = k * 2
            i = 0
            for w in self.watches.values():
                self.pfds[i].fd = w.fd
                self.pfds[i].events = POLLOUT if w.events == EPOLLOUT else POLLIN
                self.pfds[i].revents = 0
                i += 1
            self.npfds = i
            self.poll_dirty = False
        with nogil:
            n = poll(self.pfds, self.npfds, timeout_ms)
        if n < 0:
            if errno != EINTR:
                raise OSError(errno, os.strerror(errno))
            return
        for i in range(self.npfds):
            if self.pfds[i].revents:
                self.pfds[i].revents = 0
                self._dispatch(self.pfds[i].fd, 0, 0)

    def stop(self):
        """Ask the loop to return (thread-safe)."""
        self.stopping = True
        self.wake()

    def close(self):
        """Release every fd of a stopped reactor (its children are left
        alone, unreaped)."""
        if self.running:
            raise RuntimeError("stop the reactor and wait for its thread before close()")
        if self.wd_watch is not None:
            # left alone means by the watchdog too (best effort)
            self._wd_note(0, WD_RESET)
            self._wd_flush()
        self.forget_after_fork()

    def forget_after_fork(self):
        """In a forked child: close every fd of this reactor without
        calling any sink, and drop its state.  The parent's children are
        not ours to reap or signal."""
        cdef FdWatch w
        # every fd the reactor owns, polled or not: readers not yet in the
        # poll set, the stdin of children (reaped or not) nobody closed...
        for w in list(self.owned):
            w.registered = False
            if not w.closed:
                w.closed = True
                close(w.fd)
        for child in self.children.values():
            (<Child>child).reaped = True
        # the watchdog's pipe was closed with the watches: a forked child
        # holds no copy of it (the parent's death must reach the watchdog)
        self.wd_watch = None
        self.wd_child = None
        self.watchdog_starter = None
        self.watchdog_exit_handler = None
        self.owned = set()
        self.wakefd = -1            # closed with the watches (never twice)
        self.watches = {}
        self.children = {}
        self.sigchld_children = {}
        self.timers = []
        self.pending = []
        self.parked = []
        if self.sigchld_wfd >= 0:
            exo_sigchld_uninstall(self.sigchld_wfd)
            close(self.sigchld_wfd)
            self.sigchld_wfd = -1
            self.sigchld_rfd = -1   # closed with the watches
        if self.epfd >= 0:
            close(self.epfd)
            self.epfd = -1
        self.running = False
        self.stopping = True


cdef class Waker:
    """An eventfd that a thread polls beside what it waits for
    (:meth:`Child.serve`) and that other threads set to wake it."""

    def __cinit__(self):
        self.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
        if self.fd < 0:
            raise OSError(errno, os.strerror(errno))

    def wake(self):
        """Set it (thread-safe): the poll of its owner returns."""
        cdef unsigned long long one = 1
        if self.fd >= 0:
            write(self.fd, &one, 8)

    def clear(self):
        """Reset it."""
        cdef unsigned long long v
        if self.fd >= 0:
            read(self.fd, &v, 8)

    def close(self):
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1

    def __dealloc__(self):
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1


cdef class Reader:
    """A fd read by the reactor (see ``Reactor.add_reader``)."""

    def close(self):
        """Read what is readable now, then close the fd and report eof to
        the sink (thread-safe; a no-op once closed)."""
        self.watch.reactor._in_loop_do(DO_DRAIN_AND_CLOSE, self.watch, None)

    def set_reading(self, bint on):
        """Stop (``on`` false) or resume reading (thread-safe)."""
        self.watch.reactor._in_loop_do(DO_SET_READING, self.watch, on)

    @property
    def closed(self):
        return self.watch.closed


cdef class Writer:
    """Non-blocking writes to a fd through the reactor (see ``Reactor.writer``)."""

    def write(self, data):
        """Queue bytes (thread-safe); returns 0 or the errno of an
        immediate failure."""
        if self.watch.closed or self.watch.close_when_drained:
            return EPIPE
        return self.watch.reactor._write(self.watch, data)

    def close(self):
        """Close the fd once the queued bytes are written."""
        self.watch.reactor._close_writer(self.watch)


cdef class NullContext:
    """``contextlib.nullcontext()`` in C: ``with`` on it costs no Python
    frame (the call lock of a handler that needs none, taken around
    every call to it: ``execo.handlers._call_lock``)."""

    def __enter__(self):
        return None

    def __exit__(self, exc_type, exc, tb):
        return False


cdef class LineSplitter:
    """Split a byte stream into decoded lines (each with its ``\\n``).

    ``feed(data)`` returns the complete lines found so far, ``flush()``
    the last line without a newline (or '').  Splitting is done on bytes
    with memchr, so a multi-byte character is never cut.

    This is execo's one line splitting rule (``read_line()`` handlers,
    the base ``ProcessOutputHandler.read``, ``lines_async()``): a line
    ends after ``\\n`` and only there; ``\\r``, ``\\x0b``, ``\\x0c``,
    ``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028``, ``\\u2029`` stay inside
    the line (``str.splitlines`` would split on them). ``feed_text(s)``
    applies it to already decoded text (use one splitter for bytes or
    for text, not both)."""

    def __cinit__(self, encoding="utf-8"):
        exo_buf_init(&self.pending)
        self.pending_text = []
        self.encoding = encoding
        self.utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")

    def __dealloc__(self):
        exo_buf_free(&self.pending)

    cdef str _decode(self, const char *p, Py_ssize_t n):
        if self.utf8:
            return PyUnicode_DecodeUTF8(p, n, "surrogateescape")
        return PyUnicode_Decode(p, n, self.encoding.encode(), "surrogateescape")

    def feed(self, bytes data):
        cdef const char *p = PyBytes_AS_STRING(data)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
        cdef size_t k
        cdef list lines = []
        if exo_buf_len(&self.pending):
            k = exo_find_newline(p, n)
            if k == <size_t>-1:
                exo_buf_append(&self.pending, p, n)
                return lines
            exo_buf_append(&self.pending, p, k + 1)
            lines.append(self._decode(exo_buf_head(&self.pending), exo_buf_len(&self.pending)))
            exo_buf_consume(&self.pending, exo_buf_len(&self.pending))
            p += k + 1
            n -= k + 1
        while n > 0:
            k = exo_find_newline(p, n)
            if k == <size_t>-1:
                exo_buf_append(&self.pending, p, n)
                break
            lines.append(self._decode(p, k + 1))
            p += k + 1
            n -= k + 1
        return lines

    def feed_text(self, str text):
        """The complete lines of ``text`` (after what was pending), each
        with its ``\\n``; the rest is kept for the next call."""
        cdef Py_ssize_t start = 0, i
        cdef Py_ssize_t n = len(text)
        cdef list lines = []
        if self.pending_text:
            i = text.find("\n")
            if i < 0:
                if n:
                    self.pending_text.append(text)
                return lines
            self.pending_text.append(text[:i + 1])
            lines.append("".join(self.pending_text))
            self.pending_text = []
            start = i + 1
        while start < n:
            i = text.find("\n", start)
            if i < 0:
                self.pending_text.append(text[start:])
                break
            lines.append(text[start:i + 1])
            start = i + 1
        return lines

    def flush(self):
        """The last line, without a newline (or ''), and forget it."""
        cdef str s
        if self.pending_text:
            s = "".join(self.pending_text)
            self.pending_text = []
            return s
        s = self._decode(exo_buf_head(&self.pending), exo_buf_len(&self.pending)) \
            if exo_buf_len(&self.pending) else ""
        exo_buf_consume(&self.pending, exo_buf_len(&self.pending))
        return s
