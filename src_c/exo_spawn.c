/* See exo_spawn.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "exo_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int exo_pidfd_open(pid_t pid)
{
#ifdef __linux__
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int exo_pidfd_send_signal(int pidfd, int sig)
{
#ifdef __linux__
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
    (void)pidfd; (void)sig;
    errno = ENOSYS;
    return -1;
#endif
}

int exo_fd_above_std(int fd)
{
    int nfd;
    if (fd < 0 || fd > 2)
        return fd;
    nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

static void close_if(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Python ignores SIGPIPE and SIGXFSZ: the child gets their default
 * action back and an empty signal mask (handled signals are reset by exec
 * anyway). Needs POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK. */
static int reset_signals(posix_spawnattr_t *attr)
{
    sigset_t dflt, none;
    int rc;

    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
#ifdef SIGXFSZ
    sigaddset(&dflt, SIGXFSZ);
#endif
    sigemptyset(&none);
    if ((rc = posix_spawnattr_setsigdefault(attr, &dflt)) != 0)
        return rc;
    return posix_spawnattr_setsigmask(attr, &none);
}

/* A pipe with both ends close-on-exec and above the standard fds. */
static int cloexec_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    p[0] = exo_fd_above_std(p[0]);
    p[1] = exo_fd_above_std(p[1]);
    if (p[0] < 0 || p[1] < 0) {
        int e = errno;
        close_if(&p[0]);
        close_if(&p[1]);
        errno = e;
        return -1;
    }
    return 0;
}

/* Our fds were just opened with no status flag but their access mode
 * (which F_SETFL ignores): one syscall instead of F_GETFL + F_SETFL. */
static int set_nonblock(int fd)
{
    return fcntl(fd, F_SETFL, O_NONBLOCK);
}

static int open_pty_master(char *slave_name, size_t len)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return -1;
    m = exo_fd_above_std(m);
    if (m < 0)
        return -1;
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, slave_name, len) != 0) {
        int e = errno;
        close(m);
        errno = e ? e : EIO;
        return -1;
    }
    return m;
}

int exo_spawn(char *const argv[], int flags, exo_child *out)
{
    int in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
    int master = -1, master2 = -1;
    char slave_name[128];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    short sflags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    pid_t pid = -1;
    int rc = 0, fa_ok = 0, attr_ok = 0;

    out->pid = -1;
    out->pidfd = out->stdin_fd = out->stdout_fd = out->stderr_fd = -1;

    if (flags & EXO_SPAWN_PTY) {
        master = open_pty_master(slave_name, sizeof slave_name);
        if (master < 0) { rc = errno; goto fail; }
        master2 = fcntl(master, F_DUPFD_CLOEXEC, 3);
        if (master2 < 0) { rc = errno; goto fail; }
        flags |= EXO_SPAWN_NEW_SESSION;  /* needed to get a controlling tty */
    } else {
        if (!(flags & EXO_SPAWN_NO_STDIN) && cloexec_pipe(in_p) < 0) { rc = errno; goto fail; }
        if (cloexec_pipe(out_p) < 0) { rc = errno; goto fail; }
    }
    if (!(flags & EXO_SPAWN_MERGE_STDERR) && cloexec_pipe(err_p) < 0) { rc = errno; goto fail; }

    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) goto fail;
    fa_ok = 1;
    if ((rc = posix_spawnattr_init(&attr)) != 0) goto fail;
    attr_ok = 1;

    if (flags & EXO_SPAWN_PTY) {
        /* The child is a session leader with no controlling tty (setsid
         * runs before the file actions in glibc): opening the slave
         * without O_NOCTTY makes it the controlling terminal. */
        if ((rc = posix_spawn_file_actions_addopen(&fa, 0, slave_name, O_RDWR, 0)) != 0) goto fail;
        if ((rc = posix_spawn_file_actions_adddup2(&fa, 0, 1)) != 0) goto fail;
    } else {
        if (flags & EXO_SPAWN_NO_STDIN) {
            if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0) goto fail;
        } else if ((rc = posix_spawn_file_actions_adddup2(&fa, in_p[0], 0)) != 0) goto fail;
        if ((rc = posix_spawn_file_actions_adddup2(&fa, out_p[1], 1)) != 0) goto fail;
    }
    if (flags & EXO_SPAWN_MERGE_STDERR) {
        if ((rc = posix_spawn_file_actions_adddup2(&fa, 1, 2)) != 0) goto fail;
    } else if ((rc = posix_spawn_file_actions_adddup2(&fa, err_p[1], 2)) != 0) goto fail;
    /* No closefrom(3): every fd Python and execo open is close-on-exec
     * (PEP 446), and closing them at exec happens after the parent is
     * released from posix_spawn, while closefrom would run inside the
     * vfork window, costing the parent O(open fds) per spawn. */

    /* as subprocess does */
    if ((rc = reset_signals(&attr)) != 0) goto fail;
    if (flags & EXO_SPAWN_NEW_SESSION) {
#ifdef POSIX_SPAWN_SETSID
        sflags |= POSIX_SPAWN_SETSID;
#else
        rc = ENOSYS; goto fail;
#endif
    } else if (flags & EXO_SPAWN_NEW_PGROUP) {
        sflags |= POSIX_SPAWN_SETPGROUP;
        if ((rc = posix_spawnattr_setpgroup(&attr, 0)) != 0) goto fail;
    }
    if ((rc = posix_spawnattr_setflags(&attr, sflags)) != 0) goto fail;

    if (flags & EXO_SPAWN_PATH)
        rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    else
        rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    if (rc != 0) goto fail;

    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close_if(&in_p[0]);
    close_if(&out_p[1]);
    close_if(&err_p[1]);

    out->pid = pid;
    if (flags & EXO_SPAWN_PIDFD)
        out->pidfd = exo_pidfd_open(pid);  /* -1 if unsupported: caller falls back */
    if (flags & EXO_SPAWN_PTY) {
        out->stdin_fd = master;
        out->stdout_fd = master2;
    } else {
        out->stdin_fd = in_p[1];
        out->stdout_fd = out_p[0];
    }
    out->stderr_fd = err_p[0];
    if (out->stdin_fd >= 0) set_nonblock(out->stdin_fd);
    if (out->stdout_fd >= 0) set_nonblock(out->stdout_fd);
    if (out->stderr_fd >= 0) set_nonblock(out->stderr_fd);
    return 0;

fail:
    if (fa_ok) posix_spawn_file_actions_destroy(&fa);
    if (attr_ok) posix_spawnattr_destroy(&attr);
    close_if(&in_p[0]); close_if(&in_p[1]);
    close_if(&out_p[0]); close_if(&out_p[1]);
    close_if(&err_p[0]); close_if(&err_p[1]);
    close_if(&master); close_if(&master2);
    return rc ? rc : EIO;
}

int exo_spawn_detached(char *const argv[], pid_t *pid, int *wfd)
{
    int p[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc, fa_ok = 0, attr_ok = 0;

    *pid = -1;
    *wfd = -1;
    if (cloexec_pipe(p) < 0)
        return errno;
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) goto fail;
    fa_ok = 1;
    if ((rc = posix_spawnattr_init(&attr)) != 0) goto fail;
    attr_ok = 1;
    if ((rc = posix_spawn_file_actions_adddup2(&fa, p[0], 0)) != 0) goto fail;
    if ((rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) != 0) goto fail;
    if ((rc = posix_spawn_file_actions_adddup2(&fa, 1, 2)) != 0) goto fail;
    if ((rc = reset_signals(&attr)) != 0) goto fail;
#ifdef POSIX_SPAWN_SETSID
    rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
                                  | POSIX_SPAWN_SETSID);
#else
    rc = ENOSYS;
#endif
    if (rc != 0) goto fail;
    rc = posix_spawn(pid, argv[0], &fa, &attr, argv, environ);
    if (rc != 0) goto fail;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(p[0]);
    set_nonblock(p[1]);
    *wfd = p[1];
    return 0;

fail:
    if (fa_ok) posix_spawn_file_actions_destroy(&fa);
    if (attr_ok) posix_spawnattr_destroy(&attr);
    close_if(&p[0]);
    close_if(&p[1]);
    *pid = -1;
    return rc ? rc : EIO;
}

/* ---- SIGCHLD self-pipe fallback ----
 * Several reactors may watch SIGCHLD (a test may run its own beside the
 * process-wide one): each registers its wake fd in a small table. */

#define EXO_MAX_SIGCHLD_FDS 16
static volatile sig_atomic_t sigchld_fds[EXO_MAX_SIGCHLD_FDS];
static struct sigaction old_sigchld;
static int sigchld_installed = 0;

static void on_sigchld(int sig, siginfo_t *info, void *ctx)
{
    int saved = errno;
    int i;
    for (i = 0; i < EXO_MAX_SIGCHLD_FDS; i++) {
        int fd = sigchld_fds[i];
        if (fd > 0) {
            char c = 0;
            ssize_t r = write(fd, &c, 1);  /* EAGAIN: a wake-up is already pending */
            (void)r;
        }
    }
    if (old_sigchld.sa_flags & SA_SIGINFO) {
        if (old_sigchld.sa_sigaction)
            old_sigchld.sa_sigaction(sig, info, ctx);
    } else if (old_sigchld.sa_handler != SIG_DFL && old_sigchld.sa_handler != SIG_IGN
               && old_sigchld.sa_handler != NULL) {
        old_sigchld.sa_handler(sig);
    }
    errno = saved;
}

int exo_sigchld_install(int wake_fd)
{
    struct sigaction sa;
    int i, slot = -1;
    for (i = 0; i < EXO_MAX_SIGCHLD_FDS; i++) {
        if (sigchld_fds[i] == wake_fd)
            return 0;
        if (slot < 0 && sigchld_fds[i] <= 0)
            slot = i;
    }
    if (slot < 0) {
        errno = ENOSPC;
        return -1;
    }
    if (!sigchld_installed) {
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigchld;
        sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGCHLD, &sa, &old_sigchld) < 0)
            return -1;
        sigchld_installed = 1;
    }
    sigchld_fds[slot] = wake_fd;
    return 0;
}

void exo_sigchld_uninstall(int wake_fd)
{
    int i, left = 0;
    for (i = 0; i < EXO_MAX_SIGCHLD_FDS; i++) {
        if (sigchld_fds[i] == wake_fd)
            sigchld_fds[i] = 0;
        else if (sigchld_fds[i] > 0)
            left = 1;
    }
    if (!left && sigchld_installed) {
        sigaction(SIGCHLD, &old_sigchld, NULL);
        sigchld_installed = 0;
    }
}
