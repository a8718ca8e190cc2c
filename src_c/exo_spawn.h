/* exo_spawn: start a child process without running any Python code
 * between fork and exec (clone3 or posix_spawn: vfork-like, thread safe).
 *
 * Plain C, no Python API: the Cython reactor calls it with the GIL released.
 */
#ifndef EXO_SPAWN_H
#define EXO_SPAWN_H

#include <sys/types.h>

enum {
    EXO_SPAWN_PTY         = 1 << 0,  /* stdin+stdout on a new pty, child is session leader */
    EXO_SPAWN_NEW_SESSION = 1 << 1,  /* setsid() in the child */
    EXO_SPAWN_NEW_PGROUP  = 1 << 2,  /* setpgid(0, 0) in the child */
    EXO_SPAWN_PIDFD       = 1 << 3,  /* also open a pidfd on the child */
    EXO_SPAWN_PATH        = 1 << 4,  /* search PATH for argv[0] (posix_spawnp) */
    EXO_SPAWN_NO_STDIN    = 1 << 5,  /* child's stdin is /dev/null, no pipe */
    EXO_SPAWN_MERGE_STDERR = 1 << 6, /* child's stderr goes to its stdout */
};

typedef struct {
    pid_t pid;
    int pidfd;      /* -1 when not requested or not supported by the kernel */
    int stdin_fd;   /* parent's write end (pty master with EXO_SPAWN_PTY), or -1 */
    int stdout_fd;  /* parent's read end (pty master dup with EXO_SPAWN_PTY) */
    int stderr_fd;  /* parent's read end, or -1 */
} exo_child;

/* Spawn argv[0] with argv, the current environ.
 * Parent fds are O_CLOEXEC and O_NONBLOCK (except none are returned on
 * error).  Returns 0, or an errno value (exec errors such as ENOENT and
 * EACCES included: glibc's posix_spawn reports them synchronously). */
int exo_spawn(char *const argv[], int flags, exo_child *out);

/* Spawn argv[0] (a path, no PATH search) detached: in a new session,
 * its stdin the read end of a new pipe, stdout and stderr on /dev/null,
 * an empty signal mask.  On success *pid is the child and *wfd the write
 * end of the pipe (O_CLOEXEC, O_NONBLOCK, >= 3: the caller's other
 * children never inherit it), whose closing the child sees as end of
 * file.  Returns 0 or an errno value.  (Used for execo's watchdog.) */
int exo_spawn_detached(char *const argv[], pid_t *pid, int *wfd);

/* How exo_spawn starts children: 1 through clone3 (x86-64 Linux 5.5+,
 * where no seccomp filter refuses it), 0 through posix_spawn. */
int exo_spawn_method(void);

/* Choose it (tests: each way is tested). Returns 0, or ENOSYS for
 * clone3 where this build has no clone3 path. A clone3 refused by the
 * kernel still falls back to posix_spawn. */
int exo_set_spawn_method(int clone3);

/* Open a pidfd on pid, or return -1 (errno set) where the kernel lacks it. */
int exo_pidfd_open(pid_t pid);

/* Send sig to the process referred to by pidfd (no pid reuse race). */
int exo_pidfd_send_signal(int pidfd, int sig);

/* SIGCHLD fallback: on every SIGCHLD write one byte to each registered
 * wake fd (non-blocking), chaining to the previous handler.  The handler
 * is installed with the first fd and removed with the last. */
int exo_sigchld_install(int wake_fd);
void exo_sigchld_uninstall(int wake_fd);

/* Make fd >= 3 (so dup2 onto 0/1/2 in the child never aliases it). */
int exo_fd_above_std(int fd);

#endif
