# Declarations shared by the Cython reactor (execo/_reactor.pyx): its C
# (src_c/) and its classes.  System headers are declared in _system.pxd.
from posix.types cimport pid_t
from cpython.object cimport PyObject
from execo._system cimport pollfd

cdef extern from "exo_buf.h" nogil:
    ctypedef struct exo_buf:
        char *data
        size_t start
        size_t end
        size_t cap
    void exo_buf_init(exo_buf *b)
    void exo_buf_free(exo_buf *b)
    int exo_buf_append(exo_buf *b, const char *p, size_t n)
    void exo_buf_consume(exo_buf *b, size_t n)
    size_t exo_buf_len(const exo_buf *b)
    const char *exo_buf_head(const exo_buf *b)
    size_t exo_find_newline(const char *p, size_t n)
    int exo_is_ascii(const char *p, size_t n)

cdef extern from "exo_spawn.h" nogil:
    enum:
        EXO_SPAWN_PTY
        EXO_SPAWN_NEW_SESSION
        EXO_SPAWN_NEW_PGROUP
        EXO_SPAWN_PIDFD
        EXO_SPAWN_PATH
        EXO_SPAWN_NO_STDIN
        EXO_SPAWN_MERGE_STDERR
    ctypedef struct exo_child:
        pid_t pid
        int pidfd
        int stdin_fd
        int stdout_fd
        int stderr_fd
    int exo_spawn(char **argv, int flags, exo_child *out)
    int exo_pidfd_open(pid_t pid)
    int exo_pidfd_send_signal(int pidfd, int sig)
    int exo_sigchld_install(int wake_fd)
    void exo_sigchld_uninstall(int wake_fd)
    int exo_fd_above_std(int fd)
    int exo_spawn_detached(char **argv, pid_t *pid, int *wfd)
    int exo_spawn_method()
    int exo_set_spawn_method(int clone3)


cdef class Reactor


cdef class Collector:
    cdef PyObject *text     # str whose character buffer is data, or NULL
    cdef bint shared        # text was handed out: data is read-only now
    cdef public bint ascii  # every byte so far is < 0x80
    cdef char *data
    cdef size_t size
    cdef size_t cap
    cdef public bint keep
    cdef public bint notify
    cdef public unsigned long long nread  # bytes read from the stream, kept or not
    cdef int reserve(self, size_t n) except -1
    cdef int append(self, const char *p, size_t n) except -1


cdef class TimerHandle:
    cdef readonly double when
    cdef object callback
    cdef tuple args
    cdef readonly bint cancelled


cdef class FdWatch:
    cdef int fd
    cdef int kind
    cdef int stream
    cdef object sink
    cdef Reactor reactor
    cdef Child child
    cdef Collector collector
    cdef bint pipe_grown
    cdef exo_buf wbuf
    cdef bint registered
    cdef unsigned int events
    cdef bint close_when_drained
    cdef bint closed
    cdef bint paused               # a reader taken out of the poll set on request
    cdef bint reading              # the loop thread is in a read() of it, GIL released
    cdef bint borrowed             # lent to a caller thread (Child.lend)
    cdef int borrower_wake         # that caller's eventfd, -1 when none
    cdef unsigned long borrower    # that caller's thread ident
    cdef int deferred              # DO_* of the loop's to run once it is given back
    cdef unsigned int ident        # unique among the watches (in the epoll data)
    cdef bint parked               # borrowed, but nobody polls it (give_back(park), spawn(park))
    cdef double parked_at


cdef class Child:
    cdef readonly pid_t pid
    cdef readonly int pidfd
    cdef readonly int stdin_fd
    cdef readonly int stdout_fd
    cdef readonly int stderr_fd
    cdef readonly bint reaped
    cdef readonly bint pty
    cdef readonly bint own_group
    cdef readonly bytes farewell   # written to stdin by the watchdog at our death
    cdef unsigned long long stdin_ino
    cdef object sink
    cdef Reactor reactor
    cdef FdWatch stdin_watch
    cdef FdWatch stdout_watch
    cdef FdWatch stderr_watch
    cdef FdWatch pidfd_watch       # once registered, until the child is reaped
    cdef list lent                 # its watches a caller serves (Child.lend), or None


cdef class Reactor:
    cdef readonly str poller
    cdef readonly str child_watcher
    cdef public object error_handler
    cdef int epfd
    cdef int wakefd
    cdef int sigchld_rfd
    cdef int sigchld_wfd
    cdef dict watches              # fd -> FdWatch, those in the poll set
    cdef set owned                 # every FdWatch whose fd is still open
    cdef dict sigchld_children     # pid -> Child, reaped by the SIGCHLD fallback
    cdef dict children             # pid -> Child, every live child
    cdef list timers               # heap of (when, seq, TimerHandle)
    cdef unsigned long long timer_seq
    cdef list pending              # calls queued by other threads
    cdef bint wake_armed
    cdef unsigned int watch_seq    # the last FdWatch.ident given
    cdef list parked               # FdWatches parked after an expect() (Child.give_back)
    cdef bint park_armed           # a _take_back_parked timer is pending
    cdef bint busy                 # the loop is dispatching a batch of events
    cdef bint stopping
    cdef bint running
    cdef unsigned long loop_thread
    cdef char *rbuf
    cdef bint poll_dirty
    cdef pollfd *pfds
    cdef Py_ssize_t pfds_cap
    cdef Py_ssize_t npfds
    cdef int last_child_fd         # highest fd of the last spawned child
    cdef FdWatch wd_watch          # write end of the watchdog's pipe, or None
    cdef Child wd_child            # the watchdog process, or None
    cdef public object watchdog_starter       # called at a spawn while no watchdog runs
    cdef public object watchdog_exit_handler  # called when the watchdog exits

    cdef _install_sigchld(self)
    cdef bint _fd_table_crowded(self)
    cdef FdWatch _new_watch(self, int fd, int kind, int stream, object sink, Child child)
    cdef _deliver(self, FdWatch w, const char *p, Py_ssize_t n)
    cdef int _add_watch(self, FdWatch w, unsigned int events) except -1
    cdef _del_watch(self, FdWatch w)
    cdef _close_watch(self, FdWatch w)
    cdef _set_reading(self, FdWatch w, bint on)
    cdef inline bint _in_loop(self) noexcept
    cdef inline int _in_loop_do(self, int op, object a, object b) except -1
    cdef int _do(self, int op, object a, object b) except -1
    cdef _queue(self, callback, tuple args)
    cdef _wake_once(self)
    cdef _run_pending(self)
    cdef _report(self, e)
    cdef _push_timer(self, TimerHandle t)
    cdef int _next_timeout_ms(self)
    cdef _run_timers(self)
    cdef _register_child(self, Child child, bint park=*)
    cdef _unpark(self, Child child)
    cdef bint _try_reap(self, Child child, char *rbuf) except -1
    cdef _drain_at_exit(self, Child child, char *rbuf)
    cdef _on_sigchld(self)
    cdef int _write(self, FdWatch w, data) except -1
    cdef _writer_failed_soon(self, FdWatch w, int err)
    cdef _writer_failed(self, FdWatch w, int err)
    cdef _want_writable(self, FdWatch w)
    cdef _close_writer(self, FdWatch w)
    cdef _maybe_close_writer(self, FdWatch w)
    cdef _on_writable(self, FdWatch w)
    cdef int _on_readable(self, FdWatch w, char *rbuf) except -1
    cdef _on_pidfd(self, FdWatch w, char *rbuf)
    cdef int _read_once(self, FdWatch w, char *rbuf, size_t rsize) except -1
    cdef int _read_all(self, FdWatch w, char *rbuf, int max_reads) except -1
    cdef _drain_and_close(self, FdWatch w)
    cdef int _lend(self, Child child, int streams, bint reap, int wake_fd) except -2
    cdef int _lend_watches(self, Child child, int streams, bint reap, int wake_fd) except -2
    cdef int _return_wanted(self, Child child) except -1
    cdef int _serve(self, Child child, double timeout) except -2
    cdef _give_back_all(self, Child child, bint park)
    cdef _give_back(self, FdWatch w)
    cdef bint _defer_if_borrowed(self, FdWatch w, int op)
    cdef _dispatch(self, int fd, unsigned int ident, unsigned int revents)
    cdef _poll_once(self, int timeout_ms)
    cdef int _wd_note(self, pid_t pid, int op) except -1
    cdef int _wd_announce(self, Child child) except -1
    cdef _wd_flush(self)
    cdef _wd_stuck(self)
    cdef _wd_lost(self)


cdef class Waker:
    cdef readonly int fd


cdef class Reader:
    cdef FdWatch watch


cdef class Writer:
    cdef FdWatch watch


cdef class LineSplitter:
    cdef exo_buf pending
    cdef list pending_text   # feed_text(): the parts of the unfinished line
    cdef str encoding
    cdef bint utf8
    cdef str _decode(self, const char *p, Py_ssize_t n)
