/* Black-box test of limiterd with hiredis (Debian libhiredis-dev 0.14.1):
 * the replies of the main commands, as hiredis types them, and a
 * 1000-command pipeline (redisAppendCommand / redisGetReply).
 * Run through limiterd_harness.py, which starts limiterd and sets
 * LIMITERD_HOST / LIMITERD_PORT / LIMITERD_PASSWORD. Ends with
 * "N passed, N failed"; exit status 0 only if nothing failed. */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_check.h"

#define T0 1704067200000LL    /* 2024-01-01T00:00:00Z */
#define MONTH_JAN 2678400000LL /* 31 days */
#define NIL (-0x7fffffffffffffffLL)

static void die(const char *what, redisContext *c) {
  fprintf(stderr, "FAIL: %s: %s\n", what, c && c->err ? c->errstr : "no reply");
  printf("%d passed, %d failed\n", passed, failed + 1);
  exit(1);
}

static redisReply *cmd(redisContext *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(c, fmt, ap);
  va_end(ap);
  if (!r) die(fmt, c);
  return r;
}

static const char *type_name(int t) {
  switch (t) {
    case REDIS_REPLY_STRING: return "string";
    case REDIS_REPLY_ARRAY: return "array";
    case REDIS_REPLY_INTEGER: return "integer";
    case REDIS_REPLY_NIL: return "nil";
    case REDIS_REPLY_STATUS: return "status";
    case REDIS_REPLY_ERROR: return "error";
    default: return "?";
  }
}

/* Status or error reply with exactly this text; frees the reply. */
static void expect_text(int line, redisReply *r, int type, const char *text) {
  int ok = r->type == type && r->len == strlen(text) && memcmp(r->str, text, r->len) == 0;
  if (ok) {
    passed++;
  } else {
    failed++;
    fprintf(stderr, "FAIL line %d: want %s '%s', got %s '%s'\n", line, type_name(type), text,
            type_name(r->type), r->str ? r->str : "");
  }
  freeReplyObject(r);
}
#define EXPECT_STATUS(r, text) expect_text(__LINE__, (r), REDIS_REPLY_STATUS, (text))
#define EXPECT_ERROR(r, text) expect_text(__LINE__, (r), REDIS_REPLY_ERROR, (text))

static void expect_int(int line, redisReply *r, long long v) {
  if (r->type == REDIS_REPLY_INTEGER && r->integer == v) {
    passed++;
  } else {
    failed++;
    fprintf(stderr, "FAIL line %d: want integer %lld, got %s %lld '%s'\n", line, v, type_name(r->type),
            r->integer, r->str ? r->str : "");
  }
  freeReplyObject(r);
}
#define EXPECT_INT(r, v) expect_int(__LINE__, (r), (v))

/* The 6-element CREDITS.CONSUME reply; NIL for a nil remaining/limit. */
static int consume_matches(const redisReply *r, long long allowed, long long remaining, long long limit,
                           long long retry, long long reset, const char *level) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 6) return 0;
  long long want[5] = {allowed, remaining, limit, retry, reset};
  for (int i = 0; i < 5; i++) {
    const redisReply *e = r->element[i];
    if (want[i] == NIL) {
      if (e->type != REDIS_REPLY_NIL) return 0;
    } else if (e->type != REDIS_REPLY_INTEGER || e->integer != want[i]) {
      return 0;
    }
  }
  const redisReply *l = r->element[5];
  return l->type == REDIS_REPLY_STRING && l->len == strlen(level) && memcmp(l->str, level, l->len) == 0;
}

static void dump(const redisReply *r) {
  if (r->type == REDIS_REPLY_ARRAY) {
    fprintf(stderr, "[");
    for (size_t i = 0; i < r->elements; i++) {
      if (i) fprintf(stderr, ", ");
      dump(r->element[i]);
    }
    fprintf(stderr, "]");
  } else if (r->type == REDIS_REPLY_INTEGER) {
    fprintf(stderr, "%lld", r->integer);
  } else if (r->type == REDIS_REPLY_NIL) {
    fprintf(stderr, "nil");
  } else {
    fprintf(stderr, "%s '%.*s'", type_name(r->type), (int)r->len, r->str);
  }
}

static void expect_consume(int line, redisReply *r, long long allowed, long long remaining, long long limit,
                           long long retry, long long reset, const char *level) {
  if (consume_matches(r, allowed, remaining, limit, retry, reset, level)) {
    passed++;
  } else {
    failed++;
    fprintf(stderr, "FAIL line %d: want [%lld, %lld, %lld, %lld, %lld, '%s'], got ", line, allowed, remaining,
            limit, retry, reset, level);
    dump(r);
    fputc('\n', stderr);
  }
  freeReplyObject(r);
}
#define EXPECT_CONSUME(r, ...) expect_consume(__LINE__, (r), __VA_ARGS__)

/* The value of `field` in a RESP2 field/value array, or NULL. */
static const redisReply *field(const redisReply *r, const char *name) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) return NULL;
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    const redisReply *k = r->element[i];
    if (k->type == REDIS_REPLY_STRING && k->len == strlen(name) && memcmp(k->str, name, k->len) == 0)
      return r->element[i + 1];
  }
  return NULL;
}

static void test_main_commands(redisContext *c) {
  EXPECT_STATUS(cmd(c, "PING"), "PONG");
  EXPECT_STATUS(cmd(c, "FLUSHALL"), "OK");
  EXPECT_STATUS(cmd(c, "DEBUG CLOCK SET %lld", T0), "OK");
  EXPECT_STATUS(cmd(c, "LIMIT.SET h:org HARD 100 PERIOD monthly UNIT credits"), "OK");
  EXPECT_STATUS(cmd(c, "LIMIT.SET h:org/* HARD 10 PERIOD monthly UNIT credits"), "OK");
  redisReply *r = cmd(c, "LIMIT.SET h:org HARD 5 NX");
  CHECK(r->type == REDIS_REPLY_NIL, "LIMIT.SET NX on an existing key: want nil, got %s", type_name(r->type));
  freeReplyObject(r);

  EXPECT_CONSUME(cmd(c, "CREDITS.CONSUME h:org/u1 4"), 1, 6, 10, 0, MONTH_JAN, "h:org/u1");
  EXPECT_CONSUME(cmd(c, "CREDITS.CONSUME h:org/u1 7"), 0, 6, 10, MONTH_JAN, MONTH_JAN, "h:org/u1");
  EXPECT_CONSUME(cmd(c, "CREDITS.CONSUME %s %d %s", "h:org/u2", 3, "DRYRUN"), 1, 7, 10, 0, MONTH_JAN,
                 "h:org/u2");
  EXPECT_ERROR(cmd(c, "CREDITS.CONSUME nope 1"), "NOLIMIT no limit applies to 'nope'");
  EXPECT_ERROR(cmd(c, "CREDITS.CONSUME h:org/u1"),
               "ERR wrong number of arguments for 'credits.consume' command");
  EXPECT_ERROR(cmd(c, "CREDITS.CONSUME h:org/u1 many"), "ERR value is not an integer or out of range");

  EXPECT_STATUS(cmd(c, "LIMIT.SET h:free UNLIMITED"), "OK");
  EXPECT_CONSUME(cmd(c, "CREDITS.CONSUME h:free 1000000"), 1, NIL, NIL, 0, -1, "h:free");

  /* USAGE.GET: a flat field/value array in RESP2, typed fields. */
  r = cmd(c, "USAGE.GET h:org/u1");
  CHECK(r->type == REDIS_REPLY_ARRAY && r->elements == 30, "USAGE.GET: want 15 pairs, got %s of %zu",
        type_name(r->type), r->elements);
  const redisReply *f = field(r, "consumed");
  CHECK(f && f->type == REDIS_REPLY_INTEGER && f->integer == 4, "USAGE.GET consumed");
  f = field(r, "soft_limit");
  CHECK(f && f->type == REDIS_REPLY_NIL, "USAGE.GET soft_limit nil");
  f = field(r, "source");
  CHECK(f && f->type == REDIS_REPLY_STRING && strcmp(f->str, "h:org/*") == 0, "USAGE.GET source");
  f = field(r, "period_start");
  CHECK(f && f->type == REDIS_REPLY_INTEGER && f->integer == T0, "USAGE.GET period_start");
  f = field(r, "unit");
  CHECK(f && f->type == REDIS_REPLY_STRING && strcmp(f->str, "credits") == 0, "USAGE.GET unit");
  freeReplyObject(r);
  r = cmd(c, "USAGE.GET nothing");
  CHECK(r->type == REDIS_REPLY_NIL, "USAGE.GET of no limit: nil");
  freeReplyObject(r);

  r = cmd(c, "LIMIT.GET h:org/u9");
  f = field(r, "hard");
  CHECK(f && f->type == REDIS_REPLY_INTEGER && f->integer == 10, "LIMIT.GET hard from the default");
  f = field(r, "kind");
  CHECK(f && f->type == REDIS_REPLY_STRING && strcmp(f->str, "quota") == 0, "LIMIT.GET kind");
  freeReplyObject(r);

  /* Binary-safe keys (%b): NUL, spaces, CRLF. */
  static const char bin[] = "bin\0key with space\r\n";
  size_t binlen = sizeof bin - 1;
  EXPECT_STATUS(cmd(c, "LIMIT.SET %b HARD 3", bin, binlen), "OK");
  r = cmd(c, "CREDITS.CONSUME %b 2", bin, binlen);
  CHECK(r->type == REDIS_REPLY_ARRAY && r->elements == 6 && r->element[5]->len == binlen &&
            memcmp(r->element[5]->str, bin, binlen) == 0 && r->element[1]->integer == 1,
        "binary key: CREDITS.CONSUME reply names the key byte for byte");
  freeReplyObject(r);
  r = cmd(c, "LIMIT.SCAN 0 COUNT 1000");
  int found = 0;
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_ARRAY) {
    const redisReply *cur = r->element[0];
    CHECK((cur->type == REDIS_REPLY_STRING && strcmp(cur->str, "0") == 0) ||
              (cur->type == REDIS_REPLY_INTEGER && cur->integer == 0),
          "LIMIT.SCAN COUNT 1000 over a few keys ends at once");
    for (size_t i = 0; i < r->element[1]->elements; i++) {
      const redisReply *k = r->element[1]->element[i];
      if (k->len == binlen && memcmp(k->str, bin, binlen) == 0) found = 1;
    }
  }
  CHECK(found, "LIMIT.SCAN returns the binary key byte for byte");
  freeReplyObject(r);
  EXPECT_INT(cmd(c, "CREDITS.REFUND %b 1", bin, binlen), 1);
  EXPECT_INT(cmd(c, "LIMIT.DEL %b missing", bin, binlen), 1);

  EXPECT_INT(cmd(c, "LIMIT.CANCEL h:free"), 1);
  EXPECT_INT(cmd(c, "DBSIZE"), 4); // h:org, its default, h:org/u1, h:free
  EXPECT_INT(cmd(c, "USAGE.RESET h:org/u1"), 1);

  /* MULTI/EXEC. */
  EXPECT_STATUS(cmd(c, "MULTI"), "OK");
  EXPECT_STATUS(cmd(c, "CREDITS.CONSUME h:org/u3 6"), "QUEUED");
  EXPECT_STATUS(cmd(c, "CREDITS.CONSUME h:org/u3 6"), "QUEUED");
  r = cmd(c, "EXEC");
  CHECK(r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            consume_matches(r->element[0], 1, 4, 10, 0, MONTH_JAN, "h:org/u3") &&
            consume_matches(r->element[1], 0, 4, 10, MONTH_JAN, MONTH_JAN, "h:org/u3"),
        "EXEC replies");
  freeReplyObject(r);

  EXPECT_ERROR(cmd(c, "NOSUCH arg"), "ERR unknown command 'NOSUCH', with args beginning with: 'arg' ");
}

static void test_pipeline(redisContext *c) {
  enum { N = 1000, HARD = 600 };
  EXPECT_STATUS(cmd(c, "LIMIT.SET pipe HARD %d", HARD), "OK");
  for (int i = 0; i < N; i++) {
    if (redisAppendCommand(c, "CREDITS.CONSUME pipe 1") != REDIS_OK) die("redisAppendCommand", c);
  }
  int bad = 0;
  for (int i = 0; i < N; i++) {
    void *reply = NULL;
    if (redisGetReply(c, &reply) != REDIS_OK || !reply) die("redisGetReply", c);
    redisReply *r = reply;
    int ok = i < HARD ? consume_matches(r, 1, HARD - 1 - i, HARD, 0, -1, "pipe")
                      : consume_matches(r, 0, 0, HARD, -1, -1, "pipe");
    if (!ok && bad++ < 5) {
      fprintf(stderr, "FAIL pipeline reply %d: ", i);
      dump(r);
      fputc('\n', stderr);
    }
    freeReplyObject(r);
  }
  CHECK(bad == 0, "%d of %d pipelined CREDITS.CONSUME replies were wrong", bad, N);

  /* 1000 LIMIT.SETs of distinct keys, pipelined, then DBSIZE. */
  EXPECT_STATUS(cmd(c, "FLUSHALL"), "OK");
  for (int i = 0; i < N; i++) {
    if (redisAppendCommand(c, "LIMIT.SET many:%d HARD %d", i, i + 1) != REDIS_OK) die("append", c);
  }
  bad = 0;
  for (int i = 0; i < N; i++) {
    void *reply = NULL;
    if (redisGetReply(c, &reply) != REDIS_OK || !reply) die("redisGetReply", c);
    redisReply *r = reply;
    if (!(r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0)) bad++;
    freeReplyObject(r);
  }
  CHECK(bad == 0, "%d pipelined LIMIT.SET replies were not OK", bad);
  EXPECT_INT(cmd(c, "DBSIZE"), N);
  EXPECT_CONSUME(cmd(c, "CREDITS.CONSUME many:999 1000"), 1, 0, 1000, 0, -1, "many:999");
}

int main(void) {
  redisContext *c = limiterd_connect(20);
  if (!c) die("connect", NULL);
  test_main_commands(c);
  test_pipeline(c);
  redisFree(c);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
