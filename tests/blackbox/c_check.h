/* What the C black-box tests share: pass/fail counting and connecting to
 * the limiterd that limiterd_harness.py started (LIMITERD_HOST,
 * LIMITERD_PORT, LIMITERD_PASSWORD). Each test ends by printing
 * "N passed, N failed" and exits 0 only if nothing failed. */
#ifndef LIMITERD_TESTS_BLACKBOX_C_CHECK_H_
#define LIMITERD_TESTS_BLACKBOX_C_CHECK_H_

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>

static int passed, failed;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (cond) {                                            \
      passed++;                                            \
    } else {                                               \
      failed++;                                            \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
    }                                                      \
  } while (0)

/* A connection with `timeout_s` for connecting and every reply,
 * authenticated if the harness set a password; NULL (the reason printed)
 * if it cannot be made. Exits if the harness did not set the port. */
static redisContext *limiterd_connect(int timeout_s) {
  const char *host = getenv("LIMITERD_HOST");
  const char *port = getenv("LIMITERD_PORT");
  const char *password = getenv("LIMITERD_PASSWORD");
  if (!port) {
    fprintf(stderr, "FAIL: LIMITERD_PORT is not set: run through limiterd_harness.py\n");
    exit(1);
  }
  struct timeval tv = {timeout_s, 0};
  redisContext *c = redisConnectWithTimeout(host ? host : "127.0.0.1", atoi(port), tv);
  if (!c || c->err) {
    fprintf(stderr, "FAIL: connect: %s\n", c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    return NULL;
  }
  redisSetTimeout(c, tv);
  if (password && *password) {
    redisReply *r = redisCommand(c, "AUTH %s", password);
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
    if (!ok) {
      fprintf(stderr, "FAIL: AUTH refused\n");
      redisFree(c);
      return NULL;
    }
  }
  return c;
}

#endif /* LIMITERD_TESTS_BLACKBOX_C_CHECK_H_ */
