# The system and CPython C API declarations of the reactor (execo/_reactor.pyx),
# all in one place (like uvloop's includes/system.pxd).  What Cython ships
# (libc.*, posix.*, cpython.*) is cimported from there directly; the rest is
# declared here, one block per header.  The reactor's own C (src_c/) is
# declared in _reactor.pxd.
from posix.types cimport pid_t
from cpython.object cimport PyObject


cdef extern from "Python.h":
    # a compact ASCII str is a header and a char array: the Collector
    # reads into that array while it is the object's sole owner
    object _str_new "PyUnicode_New"(Py_ssize_t size, Py_UCS4 maxchar)
    int _str_resize "PyUnicode_Resize"(PyObject **p, Py_ssize_t length) except -1
    void *_str_data "PyUnicode_DATA"(object o)

cdef extern from "pythread.h":
    unsigned long PyThread_get_thread_ident()

cdef extern from "<sys/epoll.h>" nogil:
    cdef union epoll_data_t:
        void *ptr
        int fd
        unsigned int u32
        unsigned long long u64
    cdef struct epoll_event:
        unsigned int events
        epoll_data_t data
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event *event)
    int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout)
    enum:
        EPOLL_CLOEXEC
        EPOLL_CTL_ADD
        EPOLL_CTL_MOD
        EPOLL_CTL_DEL
        EPOLLIN
        EPOLLOUT
        EPOLLERR
        EPOLLHUP

cdef extern from "<poll.h>" nogil:
    cdef struct pollfd:
        int fd
        short events
        short revents
    int poll(pollfd *fds, unsigned long nfds, int timeout)
    enum:
        POLLIN
        POLLOUT
        POLLERR
        POLLHUP
        POLLNVAL

cdef extern from "<sys/eventfd.h>" nogil:
    int eventfd(unsigned int initval, int flags)
    enum:
        EFD_CLOEXEC
        EFD_NONBLOCK

cdef extern from "<fcntl.h>" nogil:
    int fcntl(int fd, int cmd, ...)
    enum:
        O_CLOEXEC
        O_NONBLOCK
        F_SETPIPE_SZ

cdef extern from "<unistd.h>" nogil:
    int pipe2(int *fds, int flags)

cdef extern from "<string.h>" nogil:
    void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen)

cdef extern from "<sys/wait.h>" nogil:
    pid_t waitpid(pid_t pid, int *status, int options)
    enum:
        WNOHANG
    bint WIFEXITED(int status)
    int WEXITSTATUS(int status)
    bint WIFSIGNALED(int status)
    int WTERMSIG(int status)

cdef extern from "<signal.h>" nogil:
    int kill(pid_t pid, int sig)
    int killpg(pid_t pgrp, int sig)

cdef extern from "<sys/stat.h>" nogil:
    ctypedef unsigned long ino_t
    cdef struct stat:
        ino_t st_ino
    int fstat(int fd, stat *buf)

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    cdef struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk, timespec *ts)
    enum:
        CLOCK_MONOTONIC
