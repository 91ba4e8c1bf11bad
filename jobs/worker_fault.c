/*
 * worker_fault.c — a worker that dies of a fatal signal says which jobs it was rendering.
 *
 * Why: a worker that disappears is charged to the jobs it was rendering (record.c), but a job
 * should be dead-lettered only when it is what kills workers, not when a node is lost or an
 * operator or the kernel's OOM killer sends SIGKILL. A crash the job causes shows as a fatal
 * signal in the worker itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT from an assert): its
 * handler records "fault" on the jobs being rendered before the process dies, so the next start
 * script can tell a crash from a loss.
 *
 * How: before each group renders, the loop's thread arms the handler with the fault script's
 * command (record.c) already formatted as RESP bytes for the group's jobs, and a dedicated,
 * idle Redis connection whose socket the handler writes them to. The handler only calls
 * async-signal-safe functions (send, poll, read, write, sigaction, raise): it sends the bytes,
 * waits up to a second for the replies, restores the default action and re-raises the signal,
 * so the process still dies of it (exit status, core dump). Between groups it is disarmed.
 *
 * Threads: arm/disarm run on the loop's thread while no engine thread runs; the handler may
 * run on any thread and reads the armed state through atomics. Under AddressSanitizer the
 * memory-fault signals are left to ASan, whose report matters more; SIGABRT is still handled.
 */
#define _GNU_SOURCE
#include "jobs/worker_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define WK_FAULT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WK_FAULT_ASAN 1
#endif
#endif

/* What the handler reads: the socket, the armed bytes and how many replies they ask for. */
static atomic_int armed_fd = -1;
static char *_Atomic armed_buf;
static atomic_size_t armed_len;
static atomic_int armed_replies;

static void fault_handler(int sig)
{
    static const char msg[] = "morphd worker: fatal signal while rendering; marking the jobs "
                              "it was rendering as the cause, then dying of it\n";
    int fd = atomic_load(&armed_fd);
    char *buf = atomic_load(&armed_buf);
    size_t len = atomic_load(&armed_len);
    int replies = atomic_load(&armed_replies);
    if (fd >= 0 && buf != NULL && len > 0) {
        ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)ignored;
        size_t off = 0;
        while (off < len) {
            ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
            if (n <= 0 && errno != EINTR)
                break;
            if (n > 0)
                off += (size_t)n;
        }
        /* Each reply ends with a newline; wait for them (at most ~1 s) so the marks are stored
         * before the process and its socket go. */
        char in[256];
        int seen = 0;
        for (int tries = 0; off == len && seen < replies && tries < 10; tries++) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 100) <= 0)
                continue;
            ssize_t n = read(fd, in, sizeof in);
            if (n <= 0)
                break;
            for (ssize_t i = 0; i < n; i++)
                seen += in[i] == '\n';
        }
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

int wk_fault_install(md_error *err)
{
    /* An alternate stack, so a stack overflow on the loop's thread still runs the handler. */
    static char alt[64 * 1024];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0)
        return md_fail(err, MD_EINTERNAL, "sigaltstack: %s", strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fault_handler;
    sa.sa_flags = SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
#ifdef WK_FAULT_ASAN
    static const int sigs[] = {SIGABRT};
#else
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#endif
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return md_fail(err, MD_EINTERNAL, "sigaction: %s", strerror(errno));
    return 0;
}

void wk_fault_disarm(wk *w)
{
    (void)w;
    char *old = atomic_exchange(&armed_buf, NULL);
    atomic_store(&armed_len, 0);
    atomic_store(&armed_fd, -1);
    md_free(old); /* no handler can be reading it: no group runs */
}

/* Appends RESP bytes to *buf. */
static int append(char **buf, size_t *len, const char *more, size_t n)
{
    char *grown = md_realloc_array(*buf, *len + n, 1);
    if (grown == NULL)
        return MD_ENOMEM;
    memcpy(grown + *len, more, n);
    *buf = grown;
    *len += n;
    return 0;
}

void wk_fault_arm(wk *w, wk_job *const *jobs, uint32_t count)
{
    wk_fault_disarm(w);
    /* The handler's connection must be alive now: a PING finds a dead one and reconnects. */
    redisReply *pong = wk_cmd(&w->fault_conn, "PING");
    int up = pong != NULL && pong->type != REDIS_REPLY_ERROR;
    freeReplyObject(pong);
    if (!up && wk_conn_ensure(&w->fault_conn) != 0)
        return; /* unarmed: a crash now is counted as a loss, not a fault */
    char *buf = NULL;
    size_t len = 0;
    int replies = 0;
    for (uint32_t at = 0; at < count; at += JR_FAULT_IDS_MAX) {
        uint32_t n = count - at < JR_FAULT_IDS_MAX ? count - at : JR_FAULT_IDS_MAX;
        const char *ids[JR_FAULT_IDS_MAX];
        for (uint32_t i = 0; i < n; i++)
            ids[i] = jobs[at + i]->id;
        jr_cmd cmd;
        char *one = NULL;
        long long one_len = -1;
        if (jr_cmd_fault(&cmd, w->cfg->prefix, ids, n, "fatal signal") == 0)
            one_len = redisFormatCommandArgv(&one, cmd.argc, cmd.argv, cmd.argvlen);
        if (one_len <= 0 || append(&buf, &len, one, (size_t)one_len) != 0) {
            redisFreeCommand(one);
            md_free(buf);
            return;
        }
        redisFreeCommand(one);
        replies++;
    }
    atomic_store(&armed_fd, w->fault_conn.ctx->fd);
    atomic_store(&armed_len, len);
    atomic_store(&armed_replies, replies);
    atomic_store(&armed_buf, buf);
}
