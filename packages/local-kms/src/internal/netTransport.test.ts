import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseHead, serveNetConnection } from './netTransport.js';
import type { Reply } from './transport.js';

const servers: Server[] = [];
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function request(body: string): string {
  return `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

describe('serveNetConnection', () => {
  it('reads no further from a connection while an answer is pending, and resumes after it', async () => {
    const pending: Reply[] = [];
    let serverSocket: Socket | undefined;
    let answered = 0;
    const server = createServer((socket) => {
      serverSocket = socket;
      serveNetConnection(
        socket,
        {
          maxBody: 1 << 20,
          dispatch: (_req, reply) => {
            if (answered === 0) pending.push(reply);
            else reply.send(200, 'application/json', '{}');
            answered++;
          },
        },
        () => 0,
      );
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const client = connect(port, '127.0.0.1');
    clients.push(client);
    client.on('error', () => undefined);
    let received = '';
    client.on('data', (d: Buffer) => (received += d.toString('latin1')));
    await new Promise((r) => client.on('connect', r));
    client.write(request('{}'));
    const big = request(`"${'A'.repeat(1_000_000)}"`);
    for (let i = 0; i < 48; i++) client.write(big);
    await new Promise((r) => setTimeout(r, 500));
    // 48 MiB were written; the server took the first request and then stopped reading.
    expect(pending).toHaveLength(1);
    expect(serverSocket?.isPaused()).toBe(true);
    expect(serverSocket!.bytesRead).toBeLessThan(4 * 1024 * 1024);
    pending[0]!.send(200, 'application/json', '{}');
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (answered === 49) resolve();
        else setTimeout(check, 20);
      };
      check();
    });
    expect(serverSocket?.isPaused()).toBe(false);
  });
});

describe('parseHead', () => {
  const head = (text: string) => {
    const b = Buffer.from(`${text}\r\n\r\n`, 'latin1');
    return parseHead(b, b.length - 4, 1 << 20, {});
  };

  it('reads the SDK header block: lower-cased names, trimmed values, repeated names joined', () => {
    const h = head(
      'POST /p?q=1 HTTP/1.1\r\nX-Amz-Target:  TrentService.Encrypt \r\nContent-Length: 12\r\nX-A: 1\r\nx-a: 2',
    );
    expect(h).toMatchObject({
      request: {
        method: 'POST',
        url: '/p?q=1',
        headers: { 'x-amz-target': 'TrentService.Encrypt', 'content-length': '12', 'x-a': '1, 2' },
        rawHeaders: [
          'X-Amz-Target',
          'TrentService.Encrypt',
          'Content-Length',
          '12',
          'X-A',
          '1',
          'x-a',
          '2',
        ],
      },
      length: 12,
      close: false,
      expectContinue: false,
    });
  });

  it('trims names and values as String.prototype.trim does once they start or end with OWS (property)', () => {
    // The reference: the trimming this parser had before it trimmed by index.
    const trimOws = (v: string): string => {
      const a = v.charCodeAt(0);
      const z = v.charCodeAt(v.length - 1);
      return a === 32 || a === 9 || z === 32 || z === 9 ? v.trim() : v;
    };
    const text = fc
      .array(fc.constantFrom(' ', '\t', '\f', '\v', '\xa0', 'a', 'B', '-', 'é'), { maxLength: 8 })
      .map((cs) => cs.join(''));
    fc.assert(
      fc.property(text, text, (pad, value) => {
        const name = `X${pad.replace(/[ \t]/g, '')}Y`;
        const h = head(`GET / HTTP/1.1\r\n${pad}${name}${pad}:${pad}${value}${pad}`);
        const expectedName = trimOws(`${pad}${name}${pad}`);
        expect(h).toMatchObject({
          request: {
            rawHeaders: [expectedName, trimOws(`${pad}${value}${pad}`)],
            headers: { [expectedName.toLowerCase()]: trimOws(`${pad}${value}${pad}`) },
          },
        });
      }),
    );
  });

  it('reads X-Amz-Target and Authorization as headers would give them, without building headers', () => {
    const h = head(
      'POST / HTTP/1.1\r\nx-amz-target: A\r\nAuthorization:  x y \r\nX-Amz-Target: B\r\nContent-Length: 0',
    );
    if (!('request' in h)) throw new Error('rejected');
    expect(h.request.hot).toMatchObject({ target: 'A, B', authorization: 'x y' });
    expect(h.request.hot?.target).toBe(h.request.headers['x-amz-target']);
    expect(h.request.hot?.authorization).toBe(h.request.headers.authorization);
    expect(head('POST / HTTP/1.1\r\nContent-Length: 0')).toMatchObject({
      request: { hot: { target: undefined, authorization: undefined } },
    });
  });

  it('keeps HTTP/1.1 alive unless told to close, and closes HTTP/1.0 unless told to keep alive', () => {
    expect(head('GET / HTTP/1.1\r\nConnection: Close')).toMatchObject({ close: true });
    expect(head('GET / HTTP/1.0')).toMatchObject({ close: true });
    expect(head('GET / HTTP/1.0\r\nConnection: keep-alive')).toMatchObject({ close: false });
    expect(head('POST / HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-Continue')).toMatchObject({
      expectContinue: true,
    });
  });

  it.each([
    ['a lower-case method', 'post / HTTP/1.1\r\nContent-Length: 0', 400],
    ['no target', 'POST  HTTP/1.1\r\nContent-Length: 0', 400],
    ['HTTP/2', 'POST / HTTP/2.0\r\nContent-Length: 0', 400],
    ['HTTP/1.2', 'POST / HTTP/1.2\r\nContent-Length: 0', 400],
    ['a header without a colon', 'POST / HTTP/1.1\r\nContent-Length 0', 400],
    ['an empty header name', 'POST / HTTP/1.1\r\n: x\r\nContent-Length: 0', 400],
    ['a POST without Content-Length', 'POST / HTTP/1.1\r\nHost: x', 400],
    ['a signed Content-Length', 'POST / HTTP/1.1\r\nContent-Length: +5', 400],
    ['an 11-digit Content-Length', 'POST / HTTP/1.1\r\nContent-Length: 12345678901', 400],
    ['chunked', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked', 411],
    ['a body over the limit', 'POST / HTTP/1.1\r\nContent-Length: 1048577', 413],
  ])('rejects %s', (_name, text, status) => {
    expect(head(text)).toMatchObject({ status });
  });
});
