/* Limit for the spawn workloads: a plain C posix_spawn + waitpid loop.
 * Compiled by bench/run.py into a temporary directory, with execo's
 * src_c/exo_spawn.c (for seqexo).
 *
 *   spawnloop all  N PIPES   spawn N `true`, then waitpid all      -> seconds
 *   spawnloop seq  N PIPES   spawn+waitpid N `true`, one by one     -> seconds
 *   spawnloop kill N PIPES   spawn N `sleep 1000`, let them settle 0.5 s (as
 *                            the workers do), then time kill(SIGTERM) of all
 *                            + waitpid of all   -> seconds, spawn seconds
 *   spawnloop killsh N 1     the same with `/bin/sh -c 'sleep 1000'` each, in
 *                            its own process group, and killpg(SIGTERM)
 *   spawnloop killfd N 1     kill N the way execo's reactor does, without
 *                            Python or a second thread: each child also has
 *                            a pidfd, and its pidfd and stdout/stderr read
 *                            ends (non-blocking) are in an epoll set; timed:
 *                            pidfd_send_signal(SIGTERM) of all, then what
 *                            epoll reports: an eof, read, the pipe deleted
 *                            from the set and closed; an exit: waitpid, the
 *                            pipes still open read to their eof, deleted and
 *                            closed, the pidfd and stdin too -> seconds,
 *                            spawn seconds (the floor of that mechanism;
 *                            pidfd_open needs Linux 5.3)
 *   spawnloop seqexo N 1     seq through execo's own spawn (src_c/exo_spawn.c,
 *                            linked in: clone3 where the kernel has it, else
 *                            posix_spawn), with its pidfd, 3 pipes and a
 *                            process group, the non-blocking stdout and
 *                            stderr polled to their eof, then waitpid
 *                            -> seconds, 1 if it spawned through clone3
 *                            (the floor of execo's run() in C)
 *   spawnloop memmem SIZE 0 CMD MARKER
 *                            run `/bin/sh -c CMD` with a stdout pipe, read it
 *                            256 KiB at a time and memmem MARKER (with an
 *                            overlap across reads) until found; timed from
 *                            the spawn to the find -> seconds (exit 3: EOF
 *                            without the marker)
 *   spawnloop fanout N PIPES HOSTFMT CMDFMT PROG [ARG...]
 *                            spawn N `PROG ARG... HOST CMD` (the argv layout
 *                            of ssh), HOST = HOSTFMT % i, CMD = CMDFMT % HOST,
 *                            then read each child's stdout to EOF and waitpid
 *                            all  -> seconds, number of children that failed
 *                            (exit status != 0, or HOST not in their stdout;
 *                            PIPES must be 1 for the output check)
 *   spawnloop fanoutw N W HOSTFMT CMDFMT PROG [ARG...]
 *                            the same with 3 pipes each and at most W
 *                            children alive at once (like clush -f W): the
 *                            next one is spawned once the oldest is reaped
 *   spawnloop memwrite SIZE 0
 *                            mmap SIZE bytes of fresh anonymous memory and
 *                            memset them: the floor of any collector keeping
 *                            SIZE bytes of output in memory -> seconds
 * PIPES=1: give each child 3 pipes (stdin/stdout/stderr, O_CLOEXEC in the
 * parent) and its own process group, like execo and subprocess do.
 * Prints the elapsed time in seconds on stdout (kill: then the time it
 * took to spawn the N sleeping children). kill, killsh and killfd also
 * print on stderr `phases: SIGNALS TAIL` (seconds): the loop sending the
 * signals, then the rest (the reaping left after it: bench/threads.py
 * killsplit). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

#include "exo_spawn.h"

extern char **environ;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct { pid_t pid; int fds[3]; int pidfd; } child_t;

static void spawn_one(child_t *c, char *const argv[], int pipes) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int p[3][2], i, rc;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    c->fds[0] = c->fds[1] = c->fds[2] = -1;
    if (pipes) {
        for (i = 0; i < 3; i++) {
            if (pipe2(p[i], O_CLOEXEC) < 0) { perror("pipe2"); exit(2); }
        }
        /* child side: stdin = read end of pipe 0, stdout/stderr = write ends */
        posix_spawn_file_actions_adddup2(&fa, p[0][0], 0);
        posix_spawn_file_actions_adddup2(&fa, p[1][1], 1);
        posix_spawn_file_actions_adddup2(&fa, p[2][1], 2);
        posix_spawnattr_setpgroup(&at, 0);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    }
    rc = posix_spawnp(&c->pid, argv[0], &fa, &at, argv, environ);
    if (rc != 0) { fprintf(stderr, "posix_spawnp: %s\n", strerror(rc)); exit(2); }
    if (pipes) {
        close(p[0][0]); close(p[1][1]); close(p[2][1]);
        c->fds[0] = p[0][1]; c->fds[1] = p[1][0]; c->fds[2] = p[2][0];
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
}

static int reap(child_t *c) {
    int st, i;
    while (waitpid(c->pid, &st, 0) < 0) {
        if (errno != EINTR) { perror("waitpid"); exit(2); }
    }
    for (i = 0; i < 3; i++) if (c->fds[i] >= 0) close(c->fds[i]);
    return st;
}

/* read fd to EOF into buf (truncated to size-1, NUL-terminated) */
static void read_all(int fd, char *buf, size_t size) {
    size_t len = 0;
    ssize_t r;
    char sink[4096];
    for (;;) {
        if (len < size - 1) r = read(fd, buf + len, size - 1 - len);
        else r = read(fd, sink, sizeof sink);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (len < size - 1) len += r;
    }
    buf[len] = 0;
}

static int fanout(int n, int pipes, int window, const char *hostfmt, const char *cmdfmt,
                  int nfixed, char **fixed, double *secs) {
    child_t *cs = calloc(n, sizeof(child_t));
    char **argv = calloc(nfixed + 3, sizeof(char *));
    char (*hosts)[256] = calloc(n, 256);
    char (*cmds)[512] = calloc(n, 512);
    char out[512];
    int i, bad = 0, next = 0;
    double t0;
    for (i = 0; i < n; i++) {   /* argv strings made before the clock */
        snprintf(hosts[i], 256, hostfmt, i);
        snprintf(cmds[i], 512, cmdfmt, hosts[i]);
    }
    memcpy(argv, fixed, nfixed * sizeof(char *));
    t0 = now();
    for (i = 0; i < n; i++) {
        /* window <= 0: all at once; else keep at most window alive */
        while (next < n && (window <= 0 || next - i < window)) {
            argv[nfixed] = hosts[next];
            argv[nfixed + 1] = cmds[next];
            argv[nfixed + 2] = NULL;
            spawn_one(&cs[next], argv, pipes);
            next++;
        }
        out[0] = 0;
        if (cs[i].fds[1] >= 0) read_all(cs[i].fds[1], out, sizeof out);
        if (reap(&cs[i]) != 0 || (pipes && !strstr(out, hosts[i]))) bad++;
    }
    *secs = now() - t0;
    return bad;
}

static int memmem_find(const char *cmd, const char *marker, double *secs) {
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    size_t m = strlen(marker), keep = 0;
    char *buf = malloc(262144 + m);
    child_t c;
    ssize_t r;
    int found = 0;
    double t0 = now();
    spawn_one(&c, argv, 1);
    for (;;) {
        r = read(c.fds[1], buf + keep, 262144);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (memmem(buf, keep + r, marker, m)) { found = 1; break; }
        /* keep the last m-1 bytes: a marker split across two reads */
        if (keep + r >= m - 1) {
            memmove(buf, buf + keep + r - (m - 1), m - 1);
            keep = m - 1;
        } else {
            keep += r;
        }
    }
    *secs = now() - t0;
    close(c.fds[1]);   /* the writer gets SIGPIPE if it is not done */
    c.fds[1] = -1;
    reap(&c);
    free(buf);
    return found;
}

static double memwrite(size_t size) {
    double t0 = now(), t1;
    unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(2); }
    memset(p, 0xab, size);
    t1 = now();
    if (p[size / 2] != 0xab) exit(3);   /* keep the memset */
    munmap(p, size);
    return t1 - t0;
}

/* read fd until EAGAIN (-> 0) or its eof (-> 1: taken out of the epoll set
 * and closed, *fd = -1) */
static int drain_fd(int ep, int *fd) {
    char buf[4096];
    ssize_t r;
    while ((r = read(*fd, buf, sizeof buf)) > 0) {}
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    epoll_ctl(ep, EPOLL_CTL_DEL, *fd, NULL);
    close(*fd);
    *fd = -1;
    return 1;
}

/* spawn n `sleep 1000` watched as execo's reactor watches them (see
 * killfd above), settle, then time their kill and reaping through it:
 * an eof is read when epoll reports it, the pipes still open are read
 * to their eof at the exit */
static double kill_fd(int n, double *spawn_secs) {
    char *argv[] = {"sleep", "1000", NULL};
    child_t *cs = calloc(n, sizeof(child_t));
    struct epoll_event ev, evs[256];
    int ep = epoll_create1(EPOLL_CLOEXEC), i, j, k, m, left = n, st;
    unsigned tag;
    double t0, t_signals;
    if (ep < 0) { perror("epoll_create1"); exit(2); }
    t0 = now();
    for (i = 0; i < n; i++) {
        spawn_one(&cs[i], argv, 1);
        cs[i].pidfd = exo_pidfd_open(cs[i].pid);   /* O_CLOEXEC by default */
        if (cs[i].pidfd < 0) { perror("pidfd_open"); exit(2); }
        ev.events = EPOLLIN;
        ev.data.u64 = (unsigned long long)i;   /* tag 0 (high half): the pidfd */
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].pidfd, &ev);
        for (k = 1; k < 3; k++) {   /* tags 1 and 2: stdout, stderr */
            fcntl(cs[i].fds[k], F_SETFL, O_NONBLOCK);
            ev.data.u64 = ((unsigned long long)k << 32) | (unsigned)i;
            epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fds[k], &ev);
        }
    }
    *spawn_secs = now() - t0;
    usleep(500000);   /* settle, untimed, as in kill */
    t0 = now();
    for (i = 0; i < n; i++) exo_pidfd_send_signal(cs[i].pidfd, SIGTERM);
    t_signals = now();
    while (left > 0) {
        m = epoll_wait(ep, evs, 256, -1);
        if (m < 0 && errno == EINTR) continue;
        if (m < 0) { perror("epoll_wait"); exit(2); }
        for (j = 0; j < m; j++) {
            tag = (unsigned)(evs[j].data.u64 >> 32);
            i = (int)(evs[j].data.u64 & 0xffffffffULL);
            if (tag != 0) {
                if (cs[i].fds[tag] >= 0) drain_fd(ep, &cs[i].fds[tag]);
                continue;
            }
            if (cs[i].pidfd < 0) continue;
            if (waitpid(cs[i].pid, &st, WNOHANG) != cs[i].pid) { perror("waitpid"); exit(2); }
            if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM) {
                fprintf(stderr, "killfd: child %d not killed by SIGTERM\n", (int)cs[i].pid);
                exit(3);
            }
            for (k = 1; k < 3; k++) {
                if (cs[i].fds[k] >= 0 && !drain_fd(ep, &cs[i].fds[k])) {
                    fprintf(stderr, "killfd: child %d's pipe open after its exit\n", (int)cs[i].pid);
                    exit(3);
                }
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, cs[i].pidfd, NULL);
            close(cs[i].pidfd);
            close(cs[i].fds[0]);
            cs[i].pidfd = -1;
            left--;
        }
    }
    fprintf(stderr, "phases: %.6f %.6f\n", t_signals - t0, now() - t_signals);
    t0 = now() - t0;
    close(ep);
    free(cs);
    return t0;
}

/* run() one after another, in C through exo_spawn (see the header) */
static double seq_exo(int n) {
    char *argv[] = {"true", NULL};
    char buf[4096];
    double t0 = now();
    int i, k, st, rc, open_fds;
    for (i = 0; i < n; i++) {
        exo_child c;
        struct pollfd p[2];
        rc = exo_spawn(argv, EXO_SPAWN_PATH | EXO_SPAWN_NEW_PGROUP | EXO_SPAWN_PIDFD, &c);
        if (rc != 0) { fprintf(stderr, "exo_spawn: %s\n", strerror(rc)); exit(2); }
        p[0].fd = c.stdout_fd;
        p[1].fd = c.stderr_fd;
        p[0].events = p[1].events = POLLIN;
        for (open_fds = 2; open_fds > 0;) {
            if (poll(p, 2, -1) < 0 && errno != EINTR) { perror("poll"); exit(2); }
            for (k = 0; k < 2; k++) {
                ssize_t r;
                if (p[k].fd < 0 || p[k].revents == 0) continue;
                r = read(p[k].fd, buf, sizeof buf);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                    close(p[k].fd);
                    p[k].fd = -1;
                    open_fds--;
                }
            }
        }
        while (waitpid(c.pid, &st, 0) < 0) {
            if (errno != EINTR) { perror("waitpid"); exit(2); }
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "seqexo: bad status\n"); exit(3); }
        close(c.stdin_fd);
        if (c.pidfd >= 0) close(c.pidfd);
    }
    return now() - t0;
}

int main(int argc, char **argv) {
    char *true_argv[] = {"true", NULL};
    char *sleep_argv[] = {"sleep", "1000", NULL};
    char *sh_sleep_argv[] = {"/bin/sh", "-c", "sleep 1000", NULL};
    const char *mode;
    int n, pipes, i;
    child_t *cs;
    double t0, t1, t_signals, spawn_secs = -1;
    if (argc < 4) {
        fprintf(stderr, "usage: %s all|seq|kill|killsh N PIPES | killfd|seqexo N 1 | fanout|fanoutw N PIPES|W"
                " HOSTFMT CMDFMT PROG [ARG...] | memwrite SIZE 0 | memmem SIZE 0 CMD MARKER\n",
                argv[0]);
        return 2;
    }
    mode = argv[1]; n = atoi(argv[2]); pipes = atoi(argv[3]);
    if (strcmp(mode, "fanout") == 0) {
        int bad;
        if (argc < 7) { fprintf(stderr, "fanout: missing HOSTFMT CMDFMT PROG\n"); return 2; }
        bad = fanout(n, pipes, 0, argv[4], argv[5], argc - 6, argv + 6, &t0);
        printf("%.6f %d\n", t0, bad);
        return 0;
    }
    if (strcmp(mode, "fanoutw") == 0) {   /* argv[3] is the window; 3 pipes each */
        int bad;
        if (argc < 7) { fprintf(stderr, "fanoutw: missing HOSTFMT CMDFMT PROG\n"); return 2; }
        bad = fanout(n, 1, pipes, argv[4], argv[5], argc - 6, argv + 6, &t0);
        printf("%.6f %d\n", t0, bad);
        return 0;
    }
    if (strcmp(mode, "memmem") == 0) {
        if (argc != 6) { fprintf(stderr, "memmem: SIZE 0 CMD MARKER\n"); return 2; }
        if (!memmem_find(argv[4], argv[5], &t0)) return 3;
        printf("%.6f\n", t0);
        return 0;
    }
    if (strcmp(mode, "memwrite") == 0) {
        printf("%.6f\n", memwrite((size_t)strtoull(argv[2], NULL, 10)));
        return 0;
    }
    if (argc != 4) { fprintf(stderr, "%s: too many arguments\n", mode); return 2; }
    if (strcmp(mode, "seqexo") == 0) {
        t0 = seq_exo(n);
        printf("%.6f %d\n", t0, exo_spawn_method());
        return 0;
    }
    if (strcmp(mode, "killfd") == 0) {
        t0 = kill_fd(n, &t1);
        printf("%.6f %.6f\n", t0, t1);
        return 0;
    }
    cs = calloc(n, sizeof(child_t));
    if (strcmp(mode, "all") == 0) {
        t0 = now();
        for (i = 0; i < n; i++) spawn_one(&cs[i], true_argv, pipes);
        for (i = 0; i < n; i++) reap(&cs[i]);
        t1 = now();
    } else if (strcmp(mode, "seq") == 0) {
        t0 = now();
        for (i = 0; i < n; i++) { spawn_one(&cs[i], true_argv, pipes); reap(&cs[i]); }
        t1 = now();
    } else if (strcmp(mode, "kill") == 0 || strcmp(mode, "killsh") == 0) {
        int sh = strcmp(mode, "killsh") == 0;
        t0 = now();
        for (i = 0; i < n; i++) spawn_one(&cs[i], sh ? sh_sleep_argv : sleep_argv, pipes);
        spawn_secs = now() - t0;
        usleep(500000);   /* settle, untimed: bench/worker.py's kill_wait */
        t0 = now();
        for (i = 0; i < n; i++) {
            if (sh) killpg(cs[i].pid, SIGTERM);
            else kill(cs[i].pid, SIGTERM);
        }
        t_signals = now();
        for (i = 0; i < n; i++) reap(&cs[i]);
        t1 = now();
        fprintf(stderr, "phases: %.6f %.6f\n", t_signals - t0, t1 - t_signals);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode); return 2;
    }
    if (spawn_secs >= 0)
        printf("%.6f %.6f\n", t1 - t0, spawn_secs);
    else
        printf("%.6f\n", t1 - t0);
    return 0;
}
