// Black-box test of limiterd with ioredis (npm, pinned in package-lock.json),
// run by Node's built-in test runner: `node --test ioredis.test.mjs`.
// Run through limiterd_harness.py, which starts limiterd and sets
// LIMITERD_HOST / LIMITERD_PORT / LIMITERD_PASSWORD.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let Redis;
try {
  Redis = require('ioredis');
} catch (e) {
  console.error('FAIL: ioredis is not installed in tests/blackbox/node_modules: ' +
                'run scripts/install-deps.sh (npm ci in tests/blackbox)');
  throw e;
}

const host = process.env.LIMITERD_HOST || '127.0.0.1';
const port = Number(process.env.LIMITERD_PORT);
const password = process.env.LIMITERD_PASSWORD || undefined;
if (!port) throw new Error('LIMITERD_PORT is not set: run through limiterd_harness.py');

const T0 = 1704067200000;       // 2024-01-01T00:00:00Z
const MONTH_JAN = 2678400000;   // 31 days

const clients = [];
function client() {
  const c = new Redis({ host, port, password, lazyConnect: true, maxRetriesPerRequest: 0,
                        retryStrategy: () => null, connectTimeout: 20000 });
  clients.push(c);
  return c;
}

let redis;
before(async () => {
  redis = client();
  await redis.connect();   // ioredis sends INFO for its ready check
  assert.equal(await redis.call('FLUSHALL'), 'OK');
  assert.equal(await redis.call('DEBUG', 'CLOCK', 'SET', String(T0)), 'OK');
});
after(() => { for (const c of clients) c.disconnect(); });

function pairs(flat) {
  assert.ok(Array.isArray(flat) && flat.length % 2 === 0, `not a field/value array: ${flat}`);
  const o = {};
  for (let i = 0; i < flat.length; i += 2) o[flat[i]] = flat[i + 1];
  return o;
}

test('redis.call: exact reply arrays', async () => {
  assert.equal(await redis.call('LIMIT.SET', 'io:k', 'HARD', '100', 'PERIOD', 'monthly'), 'OK');
  assert.deepEqual(await redis.call('CREDITS.CONSUME', 'io:k', '30'), [1, 70, 100, 0, MONTH_JAN, 'io:k']);
  assert.deepEqual(await redis.call('CREDITS.CONSUME', 'io:k', 71),
                   [0, 70, 100, MONTH_JAN, MONTH_JAN, 'io:k']);
  assert.deepEqual(await redis.call('CREDITS.CONSUME', 'io:k', 10, 'DRYRUN'), [1, 60, 100, 0, MONTH_JAN, 'io:k']);
  assert.equal(await redis.call('CREDITS.REFUND', 'io:k', 5), 25);
  assert.equal(await redis.call('LIMIT.SET', 'io:k', 'HARD', '50', 'NX'), null);
  assert.equal(await redis.call('LIMIT.SET', 'io:u', 'UNLIMITED'), 'OK');
  assert.deepEqual(await redis.call('CREDITS.CONSUME', 'io:u', 5), [1, null, null, 0, -1, 'io:u']);
  const u = pairs(await redis.call('USAGE.GET', 'io:k'));
  assert.deepEqual(u, {
    key: 'io:k', kind: 'quota', unit: 'requests', status: 'active', limit: 100, soft_limit: null,
    consumed: 25, remaining: 75, soft_reached: 0, period: 'monthly', period_start: T0,
    resets_at: T0 + MONTH_JAN, renewable: 1, valid_until: null, source: 'own',
  });
  assert.equal(await redis.call('USAGE.GET', 'io:none'), null);
  assert.equal(await redis.call('LIMIT.DEL', 'io:u', 'io:none'), 1);
});

test('errors are ReplyErrors with the exact text', async () => {
  await assert.rejects(redis.call('CREDITS.CONSUME', 'k', 1),
                       (e) => e.name === 'ReplyError' && e.message === "NOLIMIT no limit applies to 'k'");
  await assert.rejects(redis.call('LIMIT.SET'),
                       { message: "ERR wrong number of arguments for 'limit.set' command" });
  await assert.rejects(redis.call('foo', 'bar'),
                       { message: "ERR unknown command 'foo', with args beginning with: 'bar' " });
  await assert.rejects(redis.call('CREDITS.CONSUME', 'io:k', 'lots'),
                       { message: 'ERR value is not an integer or out of range' });
});

test('pipeline of 300 CREDITS.CONSUME with an error in the middle', async () => {
  assert.equal(await redis.call('LIMIT.SET', 'io:p', 'HARD', '200'), 'OK');
  const p = redis.pipeline();
  for (let i = 0; i < 300; i++) {
    p.call('CREDITS.CONSUME', 'io:p', '1');
    if (i === 99) p.call('CREDITS.CONSUME', 'io:nolimit', '1');
  }
  const results = await p.exec();
  assert.equal(results.length, 301);
  const [err, none] = results.splice(100, 1)[0];
  assert.equal(err.message, "NOLIMIT no limit applies to 'io:nolimit'");
  assert.equal(none, undefined);
  results.forEach(([e, reply], i) => {
    assert.equal(e, null, `reply ${i}`);
    assert.deepEqual(reply, i < 200 ? [1, 199 - i, 200, 0, -1, 'io:p'] : [0, 0, 200, -1, -1, 'io:p'], `reply ${i}`);
  });
  assert.equal(pairs(await redis.call('USAGE.GET', 'io:p')).consumed, 200);
});

test('MULTI/EXEC through ioredis', async () => {
  assert.equal(await redis.call('LIMIT.SET', 'io:m', 'HARD', '5'), 'OK');
  const res = await redis.multi()
    .call('CREDITS.CONSUME', 'io:m', '3')
    .call('CREDITS.CONSUME', 'io:m', '3')
    .call('USAGE.GET', 'io:m')
    .exec();
  assert.deepEqual(res[0], [null, [1, 2, 5, 0, -1, 'io:m']]);
  assert.deepEqual(res[1], [null, [0, 2, 5, -1, -1, 'io:m']]);
  assert.equal(pairs(res[2][1]).consumed, 3);
  // A bad queued command aborts the whole transaction.
  await assert.rejects(redis.multi().call('CREDITS.CONSUME', 'io:m', '1').call('NOSUCHCMD').exec(),
                       (e) => /EXECABORT/.test(e.message));
  assert.equal(pairs(await redis.call('USAGE.GET', 'io:m')).consumed, 3);
});

test('Redis.Command via sendCommand, and buffers', async () => {
  const reply = await redis.sendCommand(new Redis.Command('LIMIT.GET', ['io:p'], { replyEncoding: 'utf8' }));
  const d = pairs(reply);
  assert.equal(d.kind, 'quota');
  assert.equal(d.hard, 200);
  assert.equal(d.source, 'own');
  const buf = await redis.callBuffer('CREDITS.CONSUME', Buffer.from('io:p'), '0');
  assert.deepEqual(buf.slice(0, 5), [1, 0, 200, 0, -1]);
  assert.ok(Buffer.isBuffer(buf[5]) && buf[5].toString() === 'io:p');
});

test('8 clients pipelining concurrently never pass the org cap', async () => {
  assert.equal(await redis.call('LIMIT.SET', 'org:io', 'HARD', '100'), 'OK');
  assert.equal(await redis.call('LIMIT.SET', 'org:io/*', 'HARD', '40'), 'OK');
  const others = Array.from({ length: 8 }, () => client());
  await Promise.all(others.map((c) => c.connect()));
  const all = await Promise.all(others.map((c, n) => {
    const p = c.pipeline();
    for (let i = 0; i < 60; i++) p.call('CREDITS.CONSUME', `org:io/p:${n % 4}`, '1');
    return p.exec();
  }));
  const perProject = [0, 0, 0, 0];
  all.forEach((results, n) => results.forEach(([e, r]) => {
    assert.equal(e, null);
    assert.equal(r.length, 6);
    if (r[0] === 1) perProject[n % 4] += 1;
  }));
  assert.equal(perProject.reduce((a, b) => a + b, 0), 100);
  perProject.forEach((g, i) => assert.ok(g <= 40, `project ${i} got ${g} > 40`));
  assert.equal(pairs(await redis.call('USAGE.GET', 'org:io')).consumed, 100);
  for (let i = 0; i < 4; i++) {
    assert.equal(pairs(await redis.call('USAGE.GET', `org:io/p:${i}`)).consumed, perProject[i]);
  }
});
