/*
 * redis_fixture.h — what the C tests that run their own redis-server share: a free loopback
 * port and a connection that waits for the server to answer PING. The tests start and stop
 * the server themselves (each tracks its own children).
 */
#ifndef TESTS_REDIS_FIXTURE_H
#define TESTS_REDIS_FIXTURE_H

#include <hiredis/hiredis.h>

/* A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
int redis_fixture_free_port(void);
/* Connects to 127.0.0.1:port, retrying until PING answers or timeout_s passes; NULL then. */
redisContext *redis_fixture_connect(int port, double timeout_s);

#endif
