/* Concurrency over the SPEC's example, against the real limiterd: an
 * organization cap of 100 (org:x) shared by projects of 70 (org:x/p:a) and
 * 60 (org:x/p:b). 32 connections (one hiredis context per thread) hammer
 * CREDITS.CONSUME on both projects, 5000 attempts in all per round:
 *   round 1: amounts of 1, exactly 100 must be granted;
 *   round 2: random amounts 1..7.
 * Each round checks: total granted <= 100 (exactly 100 here: attempts far
 * outnumber the capacity and some project always has room for what the org
 * has left), each project <= its cap, and USAGE.GET's consumed equals the
 * grants at every level; every reply is well formed.
 * Run through limiterd_harness.py (LIMITERD_HOST / LIMITERD_PORT). */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "c_check.h"

enum { THREADS = 32, ATTEMPTS = 5000, ORG_CAP = 100, CAP_A = 70, CAP_B = 60 };
static const char *const kKeys[2] = {"org:x/p:a", "org:x/p:b"};

struct worker {
  pthread_t thread;
  int id;
  int max_amount;
  redisContext *c;
  long long granted[2];
  long long attempts_done;
  int errors;
  char first_error[256];
};

static pthread_barrier_t start_line;
static time_t deadline;

static void note_error(struct worker *w, const char *what) {
  if (w->errors++ == 0) snprintf(w->first_error, sizeof w->first_error, "%s", what);
}

static int valid_level(const redisReply *l) {
  if (l->type != REDIS_REPLY_STRING) return 0;
  return strcmp(l->str, "org:x") == 0 || strcmp(l->str, kKeys[0]) == 0 || strcmp(l->str, kKeys[1]) == 0;
}

static void *run(void *arg) {
  struct worker *w = arg;
  unsigned seed = 12345u + (unsigned)w->id * 7919u;
  int attempts = ATTEMPTS / THREADS + (w->id < ATTEMPTS % THREADS ? 1 : 0);
  pthread_barrier_wait(&start_line);
  for (int i = 0; i < attempts; i++) {
    if (time(NULL) > deadline) {
      note_error(w, "time bound reached");
      break;
    }
    int k = (i + w->id) % 2;
    long long amount = w->max_amount == 1 ? 1 : 1 + rand_r(&seed) % w->max_amount;
    redisReply *r = redisCommand(w->c, "CREDITS.CONSUME %s %lld", kKeys[k], amount);
    if (!r) {
      note_error(w, w->c->errstr);
      break;
    }
    w->attempts_done++;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 6) {
      note_error(w, r->type == REDIS_REPLY_ERROR ? r->str : "reply is not a 6-element array");
    } else {
      redisReply **e = r->element;
      int typed = e[0]->type == REDIS_REPLY_INTEGER && e[1]->type == REDIS_REPLY_INTEGER &&
                  e[2]->type == REDIS_REPLY_INTEGER && e[3]->type == REDIS_REPLY_INTEGER &&
                  e[4]->type == REDIS_REPLY_INTEGER && valid_level(e[5]);
      if (!typed) {
        note_error(w, "badly typed reply");
      } else if (e[0]->integer == 1) {
        w->granted[k] += amount;
        if (e[1]->integer < 0 || e[3]->integer != 0) note_error(w, "allowed with remaining < 0 or retry != 0");
      } else if (e[0]->integer == 0) {
        if (e[1]->integer >= amount) note_error(w, "denied although remaining >= amount");
        if (e[3]->integer != -1) note_error(w, "denied on a lifetime quota with retry_after != -1");
      } else {
        note_error(w, "allowed is neither 0 nor 1");
      }
    }
    freeReplyObject(r);
  }
  return NULL;
}

static long long consumed(redisContext *c, const char *key) {
  redisReply *r = redisCommand(c, "USAGE.GET %s", key);
  long long v = -1;
  if (r && r->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
      if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, "consumed") == 0 &&
          r->element[i + 1]->type == REDIS_REPLY_INTEGER)
        v = r->element[i + 1]->integer;
    }
  }
  if (r) freeReplyObject(r);
  return v;
}

static int ok_reply(redisContext *c, redisReply *r, const char *what) {
  int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
  if (!ok) fprintf(stderr, "FAIL: %s: %s\n", what, r ? (r->str ? r->str : "?") : c->errstr);
  if (r) freeReplyObject(r);
  return ok;
}

static int set_limit(redisContext *c, const char *key, int hard) {
  return ok_reply(c, redisCommand(c, "LIMIT.SET %s HARD %d", key, hard), key);
}

static void round_trip(redisContext *admin, struct worker *workers, int max_amount) {
  fprintf(stderr, "round: %d connections, %d attempts, amounts 1..%d\n", THREADS, ATTEMPTS, max_amount);
  CHECK(ok_reply(admin, redisCommand(admin, "FLUSHALL"), "FLUSHALL") && set_limit(admin, "org:x", ORG_CAP) &&
            set_limit(admin, kKeys[0], CAP_A) && set_limit(admin, kKeys[1], CAP_B),
        "setting up the limits");
  deadline = time(NULL) + 80;
  pthread_barrier_init(&start_line, NULL, THREADS);
  for (int i = 0; i < THREADS; i++) {
    struct worker *w = &workers[i];
    w->id = i;
    w->max_amount = max_amount;
    w->granted[0] = w->granted[1] = 0;
    w->attempts_done = 0;
    w->errors = 0;
    w->first_error[0] = 0;
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
      fprintf(stderr, "FAIL: pthread_create\n");
      exit(1);
    }
  }
  long long a = 0, b = 0, attempts = 0;
  int errors = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(workers[i].thread, NULL);
    a += workers[i].granted[0];
    b += workers[i].granted[1];
    attempts += workers[i].attempts_done;
    if (workers[i].errors) fprintf(stderr, "worker %d: %d errors, first: %s\n", i, workers[i].errors,
                                   workers[i].first_error);
    errors += workers[i].errors;
  }
  pthread_barrier_destroy(&start_line);
  fprintf(stderr, "granted: p:a %lld, p:b %lld, total %lld over %lld attempts\n", a, b, a + b, attempts);
  CHECK(errors == 0, "%d bad replies", errors);
  CHECK(attempts == ATTEMPTS, "%lld of %d attempts made", attempts, ATTEMPTS);
  CHECK(a + b <= ORG_CAP, "org cap exceeded: %lld granted", a + b);
  CHECK(a + b == ORG_CAP, "expected exactly %d granted in total, got %lld", ORG_CAP, a + b);
  CHECK(a <= CAP_A, "p:a cap exceeded: %lld", a);
  CHECK(b <= CAP_B, "p:b cap exceeded: %lld", b);
  long long ua = consumed(admin, "org:x/p:a"), ub = consumed(admin, "org:x/p:b"),
            uo = consumed(admin, "org:x");
  CHECK(ua == a, "USAGE.GET org:x/p:a consumed %lld, granted %lld", ua, a);
  CHECK(ub == b, "USAGE.GET org:x/p:b consumed %lld, granted %lld", ub, b);
  CHECK(uo == a + b, "USAGE.GET org:x consumed %lld, granted %lld", uo, a + b);
}

int main(void) {
  redisContext *admin = limiterd_connect(30);
  if (!admin) return 1;
  static struct worker workers[THREADS];
  for (int i = 0; i < THREADS; i++) {
    workers[i].c = limiterd_connect(30);
    if (!workers[i].c) return 1;
  }
  round_trip(admin, workers, 1);
  round_trip(admin, workers, 7);
  for (int i = 0; i < THREADS; i++) redisFree(workers[i].c);
  redisFree(admin);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
