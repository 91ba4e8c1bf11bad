/*
 * test_cli_client.c — the `morph` client commands (submit, status, wait, fetch, cancel, delete)
 * as a user runs them, without a morphd server: connection refused names the URL and exits 1;
 * every --help is there and lists every option; bad usage exits 2 before any request. A few
 * canned HTTP answers (a forked child that replays fixed bytes on a socket) check what no real
 * server would easily produce: problem+json printing and exit codes, an oversized answer, and
 * an artifact name that tries to leave the output folder. End-to-end runs against the real
 * server live in tests/integration/.
 */
#define _GNU_SOURCE /* strcasestr */
#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define JOB_ID "0123456789abcdef0123456789abcdef"

static char last_stdout[16384], last_stderr[8192];
static const char *tmp;

/* Runs `ENV morph ARGS` with stdout and stderr captured; returns the exit status. MORPHD_SERVER
 * and MORPHD_API_KEY are cleared unless env sets them. */
static int morph_env(const char *env, const char *args)
{
    char prefix[4096];
    snprintf(prefix, sizeof prefix, "env -u MORPHD_SERVER -u MORPHD_API_KEY %s", env);
    int status = test_run_morph(tmp, prefix, args, last_stderr, sizeof last_stderr);
    test_slurp(tmp, "stdout.txt", last_stdout, sizeof last_stdout);
    return status;
}

static int morph(const char *args)
{
    return morph_env("", args);
}

/* ---- A port where nothing listens ---- */

/* A socket bound to a free loopback port but not listening: connecting to it is refused, and
 * nothing else can take the port while the test holds it. */
static int closed_port(int *fd_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("closed_port");
        exit(1);
    }
    *fd_out = fd;
    return ntohs(a.sin_port);
}

static void test_connection_refused(void)
{
    int fd;
    int port = closed_port(&fd);
    char url[64], args[8192], env[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    const char *cmds[] = {
        "status " JOB_ID, "wait " JOB_ID,   "fetch " JOB_ID " -o %s/out",
        "cancel " JOB_ID, "delete " JOB_ID, "submit %s/s/sample_A.obj %s/s/sample_B.obj",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, cmds[i], tmp, tmp);
        snprintf(args, sizeof args, "%s --server %s/", cmd, url);
        CHECK_INT(1, morph(args));
        CHECK_CONTAINS(last_stderr, "morph: cannot connect to the server at ");
        CHECK_CONTAINS(last_stderr, url);
        CHECK_CONTAINS(last_stderr, "Connection refused");
        CHECK_INT(0, strlen(last_stdout));
    }
    /* The environment chooses the server when --server is absent... */
    snprintf(env, sizeof env, "MORPHD_SERVER=%s", url);
    CHECK_INT(1, morph_env(env, "status " JOB_ID));
    CHECK_CONTAINS(last_stderr, url);
    /* ...and the default is the local api. */
    CHECK_INT(1, morph_env("MORPHD_SERVER=http://127.0.0.1:1", "status " JOB_ID));
    CHECK_CONTAINS(last_stderr, "http://127.0.0.1:1");
    close(fd);
}

/* ---- Help ---- */

static void test_help(void)
{
    static const struct {
        const char *cmd;
        const char *options[28];
    } helps[] = {
        {"run",
         {"--outputs", "minimal", "heatmaps", "--align", "--heatmap-scale", "--mesh-format",
          "--fps", "--loop", "animation.mp4", "statistics.csv", "--range", "--easing",
          "--shape-weights", "--texture-weights", "--frame-on", "--camera-from", "Exit status"}},
        {"submit", {"SOURCE TARGET", "--render MESH", "--source-texture", "--target-texture",
                    "--spec",        "--frames",      "--size",           "--samples",
                    "--label",       "--outputs",     "--turntable",      "--idempotency-key",
                    "--json",        "--server",      "--api-key",        "--range",
                    "--easing",      "--weights",     "--shape-weights",  "--texture-weights",
                    "--frame-on",    "--camera-from", "Exit status"}},
        {"status", {"ID", "--json", "--server", "--api-key", "Exit status"}},
        {"wait", {"ID", "--timeout", "--json", "--quiet", "Retry-After", "--server", "--api-key"}},
        {"fetch", {"ID", "--output DIR", "--quiet", "--server", "--api-key", "Exit status"}},
        {"cancel", {"ID", "--json", "--server", "--api-key", "Exit status"}},
        {"delete", {"ID", "--server", "--api-key", "Exit status"}},
    };
    char args[256];
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        snprintf(args, sizeof args, "%s --help", helps[i].cmd);
        CHECK_INT(0, morph(args));
        char want[64];
        snprintf(want, sizeof want, "Usage: morph %s", helps[i].cmd);
        CHECK_CONTAINS(last_stdout, want);
        for (int k = 0; helps[i].options[k] != NULL; k++)
            CHECK_CONTAINS(last_stdout, helps[i].options[k]);
        char first[sizeof last_stdout];
        memcpy(first, last_stdout, sizeof first);
        snprintf(args, sizeof args, "help %s", helps[i].cmd);
        CHECK_INT(0, morph(args));
        CHECK(strcmp(first, last_stdout) == 0);
    }
    CHECK_INT(0, morph("--help"));
    const char *listed[] = {"morph run",     "morph sample",  "morph submit", "morph status",
                            "morph wait",    "morph fetch",   "morph cancel", "morph delete",
                            "MORPHD_SERVER", "MORPHD_API_KEY"};
    for (size_t i = 0; i < sizeof listed / sizeof listed[0]; i++)
        CHECK_CONTAINS(last_stdout, listed[i]);
    CHECK_INT(2, morph("help nosuch"));
    CHECK_CONTAINS(last_stderr, "unknown command 'nosuch'");
}

/* ---- Bad usage: exit 2 before any request ---- */

static void test_bad_usage(void)
{
    char args[4096];
    /* A server that would refuse the connection: none of these may get that far. */
    const char *srv = "--server http://127.0.0.1:1";
    static const struct {
        const char *args;
        const char *message;
    } cases[] = {
        {"status xyz", "'xyz' is not a job id"},
        {"status 0123456789ABCDEF0123456789ABCDEF", "is not a job id"},
        {"status ../../etc/passwd", "is not a job id"},
        {"status", "expected one job id, got 0"},
        {"wait " JOB_ID " " JOB_ID, "expected one job id, got 2"},
        {"wait " JOB_ID " --timeout -3", "--timeout: '-3' is not a positive number"},
        {"fetch " JOB_ID, "-o DIR is required"},
        {"status " JOB_ID " --bogus", "unknown option '--bogus'"},
        {"status " JOB_ID " --server", "option --server needs a value"},
        {"status " JOB_ID " --server ftp://x", "is not an http:// or https:// URL"},
        {"submit", "expected SOURCE and TARGET mesh files, got 0"},
        {"submit %s/s/sample_A.obj", "expected SOURCE and TARGET mesh files, got 1"},
        {"submit %s/s/sample_A.obj %s/nope.obj", "target mesh '"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --source-texture %s/none.png",
         "source texture '"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --spec '{\"frames\":'", "--spec: line 1"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --spec '[1]'", "must be a JSON object"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --spec @%s/none.json", "--spec: "},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --frames 0", "--frames: '0'"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --size 512", "--size: '512'"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --size 0x5", "--size: '0x5'"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --samples x", "--samples: 'x'"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --turntable 8", "--turntable is for"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --idempotency-key 'a b'", "no spaces"},
        {"submit --render %s/s/sample_A.obj %s/s/sample_B.obj", "--render MESH takes no SOURCE"},
        {"submit --render %s/none.obj", "mesh '"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --range 0:9", "--range: '0:9'"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --easing cubic", "--easing: 'cubic'"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --weights 0,4", "--weights: item 2 '4'"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --frames 3 --weights 0,1",
         "--frames and --weights exclude each other"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --texture-weights 0,x",
         "--texture-weights: item 2 'x'"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --frame-on %s/none.obj", "--frame-on mesh '"},
        {"submit %s/s/sample_A.obj %s/s/sample_B.obj --camera-from %s/none.json",
         "--camera-from: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, cases[i].args, tmp, tmp, tmp);
        snprintf(args, sizeof args, "%s %s", cmd, strstr(cmd, "--server") ? "" : srv);
        int rc = morph(args);
        if (rc != 2)
            fprintf(stderr, "case: morph %s\n", args);
        CHECK_INT(2, rc);
        CHECK_CONTAINS(last_stderr, cases[i].message);
        CHECK(strstr(last_stderr, "cannot connect") == NULL);
    }
}

/* ---- Canned answers ---- */

/* Forks a child that answers the next `count` connections with answers[i] (raw HTTP, sent after
 * reading the request head and body), then exits. Returns the port; *child gets the pid. */
static int canned_server(const char *const *answers, size_t count, pid_t *child)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("canned_server");
        exit(1);
    }
    fflush(NULL);
    *child = fork();
    if (*child != 0) {
        close(fd);
        return ntohs(a.sin_port);
    }
    signal(SIGPIPE, SIG_IGN);
    alarm(60);
    static char req[1 << 16];
    for (size_t i = 0; i < count; i++) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            _exit(1);
        /* Read the head, then skip Content-Length bytes of body (answering 100-continue). */
        size_t got = 0;
        char *end = NULL;
        while (end == NULL && got < sizeof req - 1) {
            ssize_t n = read(c, req + got, sizeof req - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = '\0';
            end = strstr(req, "\r\n\r\n");
        }
        long body = 0;
        const char *cl = end ? strcasestr(req, "\r\ncontent-length:") : NULL;
        if (cl != NULL)
            body = strtol(cl + 17, NULL, 10) - (long)(got - (size_t)(end + 4 - req));
        if (end != NULL && strcasestr(req, "\r\nexpect: 100-continue") != NULL)
            (void)!write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        while (body > 0) {
            ssize_t n = read(c, req, sizeof req);
            if (n <= 0)
                break;
            body -= n;
        }
        const char *ans = answers[i];
        if (strcmp(ans, "HUGE") == 0) {
            static char chunk[1 << 16];
            memset(chunk, 'x', sizeof chunk);
            const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 20000000\r\nConnection: close\r\n\r\n";
            (void)!write(c, head, strlen(head));
            for (int k = 0; k < 20000000 / (int)sizeof chunk + 1; k++)
                if (write(c, chunk, sizeof chunk) <= 0)
                    break;
        } else {
            (void)!write(c, ans, strlen(ans));
        }
        close(c);
    }
    _exit(0);
}

static void reap(pid_t child)
{
    int status;
    kill(child, SIGTERM);
    waitpid(child, &status, 0);
}

static char *answer(char *buf, size_t cap, const char *status, const char *ctype, const char *body)
{
    snprintf(
        buf, cap,
        "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
        status, ctype, strlen(body), body);
    return buf;
}

static void test_canned(void)
{
    char a0[2048], a1[2048], a1e[2048], a2[4096], a3[2048], args[4096], url[64];
    pid_t child;
    answer(a0, sizeof a0, "422 Unprocessable Content", "application/problem+json",
           "{\"type\":\"urn:morphd:problem:topology-mismatch\",\"title\":\"Topology mismatch\","
           "\"status\":422,\"detail\":\"source has 9409 vertices, target 478\","
           "\"instance\":\"/jobs\"}");
    answer(a1, sizeof a1, "404 Not Found", "application/problem+json",
           "{\"type\":\"urn:morphd:problem:not-found\",\"title\":\"Not Found\",\"status\":404,"
           "\"detail\":\"no job " JOB_ID "\"}");
    /* `wait` asks for the event stream first; a server without the route (404) makes it poll. */
    answer(a1e, sizeof a1e, "404 Not Found", "application/problem+json",
           "{\"type\":\"urn:morphd:problem:not-found\",\"title\":\"Not Found\",\"status\":404,"
           "\"detail\":\"no such route\"}");
    answer(a2, sizeof a2, "200 OK", "application/json",
           "{\"id\":\"" JOB_ID "\",\"kind\":\"morph\",\"status\":\"failed\","
           "\"progress\":{\"frames_done\":3,\"frames_total\":41,\"stage\":\"rendering\"},"
           "\"error\":\"engine ran out of memory\",\"artifacts\":[]}");
    answer(a3, sizeof a3, "503 Service Unavailable", "text/plain", "upstream down\n");
    const char *answers[] = {a0, a1, a1e, a2, a3, "HUGE"};
    int port = canned_server(answers, 6, &child);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);

    snprintf(args, sizeof args, "submit %s/s/sample_A.obj %s/s/sample_B.obj --server %s", tmp, tmp,
             url);
    CHECK_INT(2, morph(args));
    CHECK_CONTAINS(last_stderr,
                   "morph: 422 topology-mismatch: source has 9409 vertices, target 478");
    snprintf(args, sizeof args, "status " JOB_ID " --server %s", url);
    CHECK_INT(2, morph(args));
    CHECK_CONTAINS(last_stderr, "morph: 404 not-found: no job " JOB_ID);
    snprintf(args, sizeof args, "wait " JOB_ID " --server %s", url);
    CHECK_INT(1, morph(args));
    CHECK_CONTAINS(last_stderr, "morph: job " JOB_ID " failed: engine ran out of memory");
    snprintf(args, sizeof args, "cancel " JOB_ID " --server %s", url);
    CHECK_INT(1, morph(args));
    CHECK_CONTAINS(last_stderr, "morph: 503 server-error: upstream down");
    snprintf(args, sizeof args, "status " JOB_ID " --server %s", url);
    CHECK_INT(1, morph(args));
    CHECK_CONTAINS(last_stderr, "the answer is larger than 16 MiB, refused");
    reap(child);

    /* fetch refuses an artifact name that would leave the output folder. */
    /* `wait` asks for the event stream first; a server without the route (404) makes it poll. */
    answer(a1e, sizeof a1e, "404 Not Found", "application/problem+json",
           "{\"type\":\"urn:morphd:problem:not-found\",\"title\":\"Not Found\",\"status\":404,"
           "\"detail\":\"no such route\"}");
    answer(a2, sizeof a2, "200 OK", "application/json",
           "{\"id\":\"" JOB_ID "\",\"status\":\"succeeded\",\"artifacts\":"
           "[{\"name\":\"../escape.txt\",\"bytes\":3}]}");
    const char *fetch_answers[] = {a2};
    port = canned_server(fetch_answers, 1, &child);
    snprintf(args, sizeof args, "fetch " JOB_ID " -o %s/out --server http://127.0.0.1:%d", tmp,
             port);
    CHECK_INT(1, morph(args));
    CHECK_CONTAINS(last_stderr, "'../escape.txt', which is not a safe relative path");
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/escape.txt", tmp);
    CHECK(stat(path, &st) != 0);
    reap(child);
}

int main(void)
{
    tmp = test_tmpdir("cli_client");
    char args[4096];
    snprintf(args, sizeof args, "sample %s/s", tmp);
    CHECK_INT(0, morph(args));
    test_connection_refused();
    test_help();
    test_bad_usage();
    test_canned();
    return test_done();
}
