/* See exo_spawn.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "exo_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

/* ---- clone3: the fast path ----
 * glibc's posix_spawn (2.36) has its child make two rt_sigaction calls
 * for each of the 64 signals, so that no handler of the parent can run in
 * it, while the parent waits for it to exec: a third of what a spawn
 * holds the caller (bench/README.md, "spawn_seq"). clone3 with
 * CLONE_CLEAR_SIGHAND (Linux 5.5) has the kernel reset the handlers as it
 * makes the child (ignored signals stay ignored, as through exec), and
 * CLONE_PIDFD returns the pidfd with the pid (no pidfd_open: one system
 * call less, and no window in which the pid could be reused).
 *
 * As posix_spawn does, the child shares the parent's memory, runs on a
 * stack of its own, and the parent resumes once it has exec'd
 * (CLONE_VM | CLONE_VFORK): nothing is copied. The child makes raw system
 * calls only (no libc, no errno, nothing a sanitizer instruments) and
 * reports a failure in its job, which the parent reads when it resumes.
 * x86-64 only (the trampoline is a few lines of assembly). Elsewhere, or
 * where clone3 is refused (a kernel before 5.5, a seccomp filter: ENOSYS,
 * EPERM, EINVAL, E2BIG), children are spawned by posix_spawn, the
 * refusal being remembered. */

#if defined(__linux__) && defined(__x86_64__)
#ifndef SYS_clone3
#define SYS_clone3 435  /* (headers older than the kernel: manylinux) */
#endif
#define EXO_HAVE_CLONE3 1
#endif

/* 1: clone3 is tried (and works so far); 0: posix_spawn */
#ifdef EXO_HAVE_CLONE3
static int use_clone3 = 1;
#else
static int use_clone3 = 0;
#endif

int exo_spawn_method(void)
{
    return __atomic_load_n(&use_clone3, __ATOMIC_RELAXED);
}

int exo_set_spawn_method(int clone3)
{
#ifdef EXO_HAVE_CLONE3
    __atomic_store_n(&use_clone3, clone3 ? 1 : 0, __ATOMIC_RELAXED);
    return 0;
#else
    if (clone3)
        return ENOSYS;
    return 0;
#endif
}

#ifdef EXO_HAVE_CLONE3

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#define EXO_CLONE_CLEAR_SIGHAND 0x100000000ULL
#define EXO_CLONE3_REFUSED (-1)
#define EXO_CHILD_STACK (32 * 1024)

struct exo_clone_args {  /* struct clone_args, its first version (64 bytes) */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

struct exo_ksigaction {  /* the kernel's struct sigaction on x86-64 */
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

/* What the child does, prepared by the parent. */
typedef struct {
    char *const *argv;
    char *const *envp;
    char **paths;          /* the files to execve, in turn (a PATH search) */
    int npaths;
    int flags;
    const char *open0;     /* opened as fd 0 (pty slave, /dev/null), or NULL */
    int open0_flags;
    int in_fd, out_fd, err_fd;  /* made fds 0, 1, 2 (per flags) */
    volatile int err;      /* set by the child: errno of the step that failed */
} spawn_job;

#if defined(__GNUC__) && (__GNUC__ >= 8 || defined(__clang__))
#define EXO_UNINSTRUMENTED __attribute__((noinline, no_sanitize("address", "undefined")))
#else
#define EXO_UNINSTRUMENTED __attribute__((noinline))
#endif

static inline long sc1(long n, long a)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"(n), "D"(a) : "rcx", "r11", "memory");
    return r;
}

static inline long sc3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static inline long sc4(long n, long a, long b, long c, long d)
{
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "0"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return r;
}

/* The child, from clone3 to execve: what posix_spawn's file actions and
 * attributes do (pgroup or session, fds 0-2, SIGPIPE and SIGXFSZ back to
 * their default, an empty signal mask), then the exec, trying each file
 * of a PATH search as glibc's posix_spawnp does (on to the next on
 * ENOENT, ENOTDIR, EACCES..., EACCES reported if any was seen; no shell
 * for ENOEXEC). */
static EXO_UNINSTRUMENTED int spawn_child(void *arg)
{
    spawn_job *j = (spawn_job *)arg;
    struct exo_ksigaction dfl;
    uint64_t none = 0;
    long r = 0;
    int i, eacces = 0;

    if (j->flags & EXO_SPAWN_NEW_SESSION)
        r = sc1(SYS_setsid, 0);
    else if (j->flags & EXO_SPAWN_NEW_PGROUP)
        r = sc3(SYS_setpgid, 0, 0, 0);
    if (r < 0)
        goto fail;
    if (j->open0 != NULL) {
        /* (a session leader opening a tty without O_NOCTTY: it becomes
         * the controlling terminal, whatever fd it gets) */
        r = sc4(SYS_openat, AT_FDCWD, (long)j->open0, j->open0_flags, 0);
        if (r < 0)
            goto fail;
        if (r != 0) {
            long fd = r;
            r = sc3(SYS_dup3, fd, 0, 0);
            sc1(SYS_close, fd);
            if (r < 0)
                goto fail;
        }
    } else if ((r = sc3(SYS_dup3, j->in_fd, 0, 0)) < 0) {
        goto fail;
    }
    /* (the pipe ends are >= 3: never one of the fds dup'ed onto) */
    r = sc3(SYS_dup3, (j->flags & EXO_SPAWN_PTY) ? 0 : j->out_fd, 1, 0);
    if (r < 0)
        goto fail;
    r = sc3(SYS_dup3, (j->flags & EXO_SPAWN_MERGE_STDERR) ? 1 : j->err_fd, 2, 0);
    if (r < 0)
        goto fail;
    dfl.handler = SIG_DFL;
    dfl.flags = 0;
    dfl.restorer = 0;
    dfl.mask = 0;
    sc4(SYS_rt_sigaction, SIGPIPE, (long)&dfl, 0, 8);
    sc4(SYS_rt_sigaction, SIGXFSZ, (long)&dfl, 0, 8);
    r = sc4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8);
    if (r < 0)
        goto fail;
    for (i = 0; i < j->npaths; i++) {
        r = sc3(SYS_execve, (long)j->paths[i], (long)j->argv, (long)j->envp);
        switch (-r) {
        case EACCES:
            eacces = 1;
            /* fall through */
        case ENOENT: case ESTALE: case ENOTDIR: case ENODEV: case ETIMEDOUT:
            continue;
        default:
            goto fail;
        }
    }
    if (eacces)
        r = -EACCES;
fail:
    j->err = r < 0 ? (int)-r : EIO;
    sc1(SYS_exit_group, 127);
    return 0;
}

/* clone3(cl) with the child running fn(arg) on cl's stack, then
 * exit_group(its return value). Returns the raw result in the parent. */
static long clone3_call(struct exo_clone_args *cl, int (*fn)(void *), void *arg)
{
    long ret;
    register long r12 __asm__("r12") = (long)fn;
    register long r13 __asm__("r13") = (long)arg;
    __asm__ volatile(
        "syscall\n\t"
        "testq %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        /* the child: rsp is the top of its stack (16-byte aligned, so
         * that the call gives fn the frame the ABI expects) */
        "xorl %%ebp, %%ebp\n\t"
        "movq %%r13, %%rdi\n\t"
        "callq *%%r12\n\t"
        "movl %%eax, %%edi\n\t"
        "movl %[exit_group], %%eax\n\t"
        "syscall\n\t"
        "hlt\n"
        "1:"
        : "=a"(ret)
        : "0"((long)SYS_clone3), "D"(cl), "S"(sizeof *cl), "r"(r12), "r"(r13),
          [exit_group] "i"(SYS_exit_group)
        : "rcx", "r11", "memory");
    return ret;
}

/* One child stack kept between spawns (a spawn that finds it taken, by
 * another thread's, makes its own). Lock-free, so a fork at any moment
 * leaves nothing locked: at worst the child process makes a new one. */
static void *kept_stack;

static void *take_stack(void)
{
    void *s = __atomic_exchange_n(&kept_stack, NULL, __ATOMIC_ACQUIRE);
    return s != NULL ? s : malloc(EXO_CHILD_STACK);
}

static void put_stack(void *s)
{
    free(__atomic_exchange_n(&kept_stack, s, __ATOMIC_ACQ_REL));
}

/* The files glibc's posix_spawnp tries for file: file itself if it holds
 * a '/' (or without search), in the caller's one[] (no allocation),
 * else each PATH entry (PATH unset:
 * /bin:/usr/bin) joined with it, an empty entry meaning the current
 * directory: one malloc'ed block (the strings after the array). NULL
 * with *err set on failure. */
static char **exec_candidates(const char *file, int search, char *one[1], int *count, int *err)
{
    const char *path, *p, *end;
    size_t flen, plen, n = 1;
    char **v;
    char *w;
    int i = 0;

    if (!search || strchr(file, '/') != NULL) {
        one[0] = (char *)file;
        *count = 1;
        return one;
    }
    if (*file == '\0') {
        *err = ENOENT;
        return NULL;
    }
    flen = strlen(file);
    if (flen > NAME_MAX) {
        *err = ENAMETOOLONG;
        return NULL;
    }
    path = getenv("PATH");
    if (path == NULL)
        path = "/bin:/usr/bin";
    plen = strlen(path);
    for (p = path; *p; p++)
        if (*p == ':')
            n++;
    v = malloc(n * sizeof(char *) + plen + n * (flen + 2));
    if (v == NULL) {
        *err = ENOMEM;
        return NULL;
    }
    w = (char *)(v + n);
    for (p = path;; p = end + 1) {
        end = strchrnul(p, ':');
        v[i++] = w;
        memcpy(w, p, (size_t)(end - p));
        w += end - p;
        if (end > p)
            *w++ = '/';
        memcpy(w, file, flen + 1);
        w += flen + 1;
        if (*end == '\0')
            break;
    }
    *count = i;
    return v;
}

/* Spawn through clone3: 0 (*pid, *pidfd set), an errno value, or
 * EXO_CLONE3_REFUSED (not usable here: posix_spawn from now on). */
static int spawn_clone3(char *const argv[], int flags, int in_fd, int out_fd, int err_fd,
                        const char *slave_name, pid_t *pid, int *pidfd)
{
    spawn_job j;
    struct exo_clone_args cl;
    int fd = -1, count = 0, rc = 0, st;
    char *one[1];
    char **paths;
    void *stack;
    long r;

    paths = exec_candidates(argv[0], (flags & EXO_SPAWN_PATH) != 0, one, &count, &rc);
    if (paths == NULL)
        return rc;
    stack = take_stack();
    if (stack == NULL) {
        if (paths != one)
            free(paths);
        return ENOMEM;
    }
    memset(&j, 0, sizeof j);
    j.argv = argv;
    j.envp = environ;
    j.paths = paths;
    j.npaths = count;
    j.flags = flags;
    if (flags & EXO_SPAWN_PTY) {
        j.open0 = slave_name;
        j.open0_flags = O_RDWR;
    } else if (flags & EXO_SPAWN_NO_STDIN) {
        j.open0 = "/dev/null";
        j.open0_flags = O_RDONLY;
    }
    j.in_fd = in_fd;
    j.out_fd = out_fd;
    j.err_fd = err_fd;
    memset(&cl, 0, sizeof cl);
    cl.flags = CLONE_VM | CLONE_VFORK | EXO_CLONE_CLEAR_SIGHAND;
    if (flags & EXO_SPAWN_PIDFD) {
        cl.flags |= CLONE_PIDFD;
        cl.pidfd = (uint64_t)(uintptr_t)&fd;
    }
    cl.exit_signal = SIGCHLD;
    cl.stack = (uint64_t)(uintptr_t)stack;
    cl.stack_size = EXO_CHILD_STACK;
    r = clone3_call(&cl, spawn_child, &j);
    if ((r == -EMFILE || r == -ENFILE) && (cl.flags & CLONE_PIDFD)) {
        /* no fd left for the pidfd: the child without one (reaped through
         * SIGCHLD), as when pidfd_open fails after posix_spawn (no child
         * ran: the job and fd are as they were) */
        cl.flags &= ~(uint64_t)CLONE_PIDFD;
        cl.pidfd = 0;
        r = clone3_call(&cl, spawn_child, &j);
    }
    put_stack(stack);
    if (paths != one)
        free(paths);
    if (r < 0) {
        if (r == -ENOSYS || r == -EPERM || r == -EINVAL || r == -E2BIG) {
            __atomic_store_n(&use_clone3, 0, __ATOMIC_RELAXED);
            return EXO_CLONE3_REFUSED;
        }
        return (int)-r;
    }
    if (j.err != 0) {
        /* it failed before or at its exec, and exits (or has): reap it */
        while (waitpid((pid_t)r, &st, 0) < 0 && errno == EINTR)
            ;
        if (fd >= 0)
            close(fd);
        return j.err;
    }
    *pid = (pid_t)r;
    *pidfd = fd;
    return 0;
}

#endif /* EXO_HAVE_CLONE3 */

int exo_spawn(char *const argv[], int flags, exo_child *out)
{
    int in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
    int master = -1, master2 = -1;
    char slave_name[128];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    short sflags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    pid_t pid = -1;
    int pidfd = -1;
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

#ifdef EXO_HAVE_CLONE3
    if (__atomic_load_n(&use_clone3, __ATOMIC_RELAXED)) {
        rc = spawn_clone3(argv, flags, in_p[0], out_p[1], err_p[1], slave_name, &pid, &pidfd);
        if (rc == 0)
            goto spawned;
        if (rc != EXO_CLONE3_REFUSED)
            goto fail;
        rc = 0;
    }
#endif

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
    if (flags & EXO_SPAWN_PIDFD)
        pidfd = exo_pidfd_open(pid);  /* -1 if unsupported: caller falls back */
#ifdef EXO_HAVE_CLONE3
spawned:
#endif
    close_if(&in_p[0]);
    close_if(&out_p[1]);
    close_if(&err_p[1]);

    out->pid = pid;
    out->pidfd = pidfd;
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
