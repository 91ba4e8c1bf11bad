/*
 * redis_fixture.c — see redis_fixture.h. Test code, one thread.
 */
#define _GNU_SOURCE
#include "redis_fixture.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/md.h"

int redis_fixture_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

redisContext *redis_fixture_connect(int port, double timeout_s)
{
    double end = md_now() + timeout_s;
    while (md_now() < end) {
        redisContext *c = redisConnect("127.0.0.1", port);
        if (c != NULL && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            if (ok)
                return c;
        }
        if (c != NULL)
            redisFree(c);
        usleep(50000);
    }
    return NULL;
}
