import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
} from '@aws-sdk/client-kms';
import type { LocalKmsOptions } from '@steadykms/local-kms';
import { catchKmsError, fakeClock, startTestKms, type TestKms } from './support/index.js';

const servers: TestKms[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(
  options: LocalKmsOptions = {},
  transport: 'net' | 'http' = 'net',
): Promise<TestKms> {
  const kms = await startTestKms({ quotas: false, ...options, transport });
  servers.push(kms);
  return kms;
}

const AUTH =
  'AWS4-HMAC-SHA256 Credential=AKIDLOCALKMS/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=' +
  '0'.repeat(64);

/** A raw KMS request; `close` asks the server to close the connection after answering. */
function request(op: string, body: string, close = false): string {
  return (
    `POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: TrentService.${op}\r\n` +
    `Content-Type: application/x-amz-json-1.1\r\nAuthorization: ${AUTH}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${close ? 'Connection: close\r\n' : ''}\r\n${body}`
  );
}

/**
 * Writes `parts` to a new connection one by one (each in its own write), then, with `end`, half-closes;
 * resolves with everything the server sent once it closes the connection (or after `timeoutMs`).
 */
function raw(
  url: string,
  parts: readonly (string | Uint8Array)[],
  { end = false, timeoutMs = 5_000 } = {},
): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const got: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      resolve(Buffer.concat(got).toString('latin1'));
    };
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, timeoutMs);
    socket.on('data', (d: Buffer) => got.push(d));
    socket.on('error', () => undefined);
    socket.on('close', done);
    socket.on('connect', () => {
      void (async () => {
        for (const p of parts) {
          if (socket.destroyed) return;
          socket.write(p);
          if (parts.length > 1) await new Promise((r) => setImmediate(r));
        }
        if (end && !socket.destroyed) socket.end();
      })();
    });
  });
}

function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

// Both transports answer the SDK alike: net is the default, http the fallback.
describe.each(['net', 'http'] as const)('local-kms transport: %s, real SDK', (transport) => {
  it('answers CreateKey, Encrypt, Decrypt and GenerateDataKey', async () => {
    const kms = await start({}, transport);
    const client = kms.client();
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const { CiphertextBlob } = await client.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`hello over ${transport}`) }),
    );
    const { Plaintext, KeyId } = await client.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(Plaintext!).toString()).toBe(`hello over ${transport}`);
    expect(KeyId).toContain(keyId);
    const dk = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    expect(dk.Plaintext).toHaveLength(32);
    const back = await client.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }));
    expect(Buffer.from(back.Plaintext!)).toEqual(Buffer.from(dk.Plaintext!));
    // Many calls in parallel over the SDK's keep-alive connections.
    const many = await Promise.all(
      Array.from({ length: 50 }, () =>
        client.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 16 })),
      ),
    );
    expect(many.every((r) => r.Plaintext?.length === 16)).toBe(true);
    expect(kms.server.stats().byOperation['GenerateDataKey']?.accepted).toBe(51);
  });

  it('throttles over quota with the exact KMS answer', async () => {
    const kms = await start(
      { clock: fakeClock(), quotas: { overrides: { symmetric: 3 } } },
      transport,
    );
    const client = kms.client();
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' })).then(
          () => 'ok',
          (e: unknown) =>
            e as { name: string; message: string; $metadata: { httpStatusCode?: number } },
        ),
      ),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(3);
    const throttled = results.filter((r) => typeof r !== 'string');
    expect(throttled.every((e) => e.name === 'ThrottlingException')).toBe(true);
    expect(throttled[0]?.$metadata.httpStatusCode).toBe(400);
    expect(throttled[0]?.message).toBe(
      'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.',
    );
  });

  it('resets the connection for an injected reset, and applies latency', async () => {
    const kms = await start(
      {
        faults: { seed: 1, operations: { Encrypt: { reset: 1 }, Decrypt: { latencyMs: 120 } } },
      },
      transport,
    );
    const client = kms.client();
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const err = await client
      .send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(Error);
    expect(String((err as { code?: string }).code ?? (err as Error).message)).toMatch(
      /ECONNRESET|socket hang up/,
    );
    expect(kms.server.stats().byOperation['Encrypt']?.faulted).toBe(1);
    kms.server.setFaults({ operations: { Decrypt: { latencyMs: 120 } } });
    const blob = Buffer.alloc(60);
    const t0 = Date.now();
    const e2 = await catchKmsError(client.send(new DecryptCommand({ CiphertextBlob: blob })));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
    expect(e2?.name).toBe('InvalidCiphertextException');
  });

  it('serves the admin routes', async () => {
    const kms = await start({}, transport);
    const r = await fetch(`${kms.url}/__admin/health`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true });
    const s = await fetch(`${kms.url}/__admin/stats`);
    const stats = (await s.json()) as { process: { pid: number } };
    expect(stats.process.pid).toBe(process.pid);
  });
});

describe('local-kms transport: net, raw sockets', () => {
  it('answers two pipelined requests sent in one write, in order', async () => {
    const kms = await start();
    const out = await raw(kms.url, [
      request('ListKeys', '{}') + request('GenerateRandom', '{"NumberOfBytes":8}', true),
    ]);
    expect(statuses(out)).toEqual([200, 200]);
    expect(out.indexOf('"Keys"')).toBeLessThan(out.indexOf('"Plaintext"'));
    expect(out).toMatch(/Connection: keep-alive[\s\S]*Connection: close/);
  });

  it('answers a request split byte by byte', async () => {
    const kms = await start();
    const bytes = Buffer.from(request('GenerateRandom', '{"NumberOfBytes":4}', true));
    const parts = Array.from(bytes, (b) => Uint8Array.of(b));
    const out = await raw(kms.url, parts);
    expect(statuses(out)).toEqual([200]);
    expect(out).toContain('"Plaintext"');
    expect(out).toMatch(/x-amzn-RequestId: [0-9a-f-]{36}/);
  });

  it('answers Expect: 100-continue with 100 Continue first', async () => {
    const kms = await start();
    const out = await raw(kms.url, [
      request('ListKeys', '{}', true).replace('Host:', 'Expect: 100-continue\r\nHost:'),
    ]);
    expect(statuses(out)).toEqual([100, 200]);
  });

  it('rejects chunked bodies, missing Content-Length, bad request lines and oversized headers with a 4xx and closes', async () => {
    const kms = await start();
    const chunked = await raw(kms.url, [
      `POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    ]);
    expect(statuses(chunked)).toHaveLength(1);
    expect(statuses(chunked)[0]).toBeGreaterThanOrEqual(400);
    expect(statuses(chunked)[0]).toBeLessThan(500);
    const noLength = await raw(kms.url, [`POST / HTTP/1.1\r\nHost: x\r\n\r\n{}`]);
    expect(statuses(noLength)).toEqual([400]);
    const badLine = await raw(kms.url, [`HELLO THERE\r\n\r\n`]);
    expect(statuses(badLine)).toEqual([400]);
    const big = await raw(kms.url, [
      `POST / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 2\r\n\r\n{}`,
    ]);
    expect(statuses(big)).toEqual([400]);
    const bigBody = await raw(kms.url, [
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${(1 << 20) + 1}\r\n\r\n`,
    ]);
    expect(statuses(bigBody)).toEqual([413]);
    // The server is still fine.
    const ok = await raw(kms.url, [request('ListKeys', '{}', true)]);
    expect(statuses(ok)).toEqual([200]);
  });

  it('never answers random bytes with a 5xx, and keeps serving', async () => {
    const kms = await start();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .tuple(
              fc.constantFrom('POST / HTTP/1.1\r\n', 'GET /__admin/health HTTP/1.1\r\n', ''),
              fc.string({ maxLength: 200 }),
              fc.constantFrom('\r\n\r\n', ''),
              fc.string({ maxLength: 50 }),
            )
            .map(([a, b, c, d]) => Buffer.from(a + b + c + d)),
        ),
        async (bytes) => {
          const out = await raw(kms.url, [bytes], { end: true, timeoutMs: 2_000 });
          expect(out).not.toMatch(/HTTP\/1\.1 5\d\d /);
        },
      ),
      { numRuns: 60 },
    );
    const ok = await raw(kms.url, [request('ListKeys', '{}', true)]);
    expect(statuses(ok)).toEqual([200]);
  });

  it('close() drops open connections', async () => {
    const kms = await startTestKms({ quotas: false, transport: 'net' });
    const pending = raw(kms.url, ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{'], {
      timeoutMs: 10_000,
    });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await kms.close();
    await pending;
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('closes a keep-alive connection idle past keepAliveTimeoutMs, and keeps a busy one open', async () => {
    const kms = await start({ keepAliveTimeoutMs: 200 });
    const t0 = Date.now();
    // One request, keep-alive, then silence: the server closes the connection after the timeout.
    const idle = await raw(kms.url, [request('GenerateRandom', '{"NumberOfBytes":4}')], {
      timeoutMs: 5_000,
    });
    const closedAfter = Date.now() - t0;
    expect(statuses(idle)).toEqual([200]);
    expect(closedAfter).toBeGreaterThanOrEqual(190);
    expect(closedAfter).toBeLessThan(2_000);
    // Requests every 100 ms for 600 ms: never idle for 200 ms, so all are answered on one connection.
    const parts = Array.from({ length: 6 }, (_, i) =>
      request('GenerateRandom', '{"NumberOfBytes":4}', i === 5),
    );
    const { hostname, port } = new URL(kms.url);
    const socket = connect(Number(port), hostname);
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    const closed = new Promise((r) => socket.on('close', r));
    await new Promise((r) => socket.on('connect', r));
    for (const p of parts) {
      socket.write(p);
      await new Promise((r) => setTimeout(r, 100));
    }
    await closed;
    expect(statuses(Buffer.concat(got).toString('latin1'))).toEqual([200, 200, 200, 200, 200, 200]);
  });

  it('answers 24 MiB of requests pipelined behind a delayed answer, all in order', async () => {
    const kms = await start({
      faults: { seed: 1, operations: { GenerateRandom: { latencyMs: 1_200 } } },
    });
    const { hostname, port } = new URL(kms.url);
    const socket = connect(Number(port), hostname);
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    socket.on('error', () => undefined);
    const closed = new Promise((r) => socket.on('close', r));
    await new Promise((r) => socket.on('connect', r));
    // A delayed request, then 24 MiB of pipelined 1 MiB requests (each a ValidationException: the
    // plaintext is over 4,096 bytes), the last one closing.
    socket.write(request('GenerateRandom', '{"NumberOfBytes":4}'));
    const big = `{"KeyId":"alias/none","Plaintext":"${'A'.repeat(1_000_000)}"}`;
    for (let i = 0; i < 24; i++) socket.write(request('Encrypt', big, i === 23));
    await new Promise((r) => setTimeout(r, 300));
    expect(got.length).toBe(0);
    await closed;
    const codes = statuses(Buffer.concat(got).toString('latin1'));
    expect(codes).toHaveLength(25);
    expect(codes[0]).toBe(200);
    expect(codes.slice(1).every((c) => c === 400)).toBe(true);
  });
});
