import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { KmsRequest, Reply } from './transport.js';

/** The largest header block accepted, as node:http's default. */
export const MAX_HEADER_BYTES = 16 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n');
const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/;
const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
/** Status line plus the KMS content type, built once per status. */
const PREFIXES = new Map<number, string>();
const KMS_TYPE = 'application/x-amz-json-1.1';

function prefix(status: number, contentType: string): string {
  if (contentType !== KMS_TYPE) {
    return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\nContent-Type: ${contentType}\r\nContent-Length: `;
  }
  let p = PREFIXES.get(status);
  if (p === undefined) {
    p = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\nContent-Type: ${KMS_TYPE}\r\nContent-Length: `;
    PREFIXES.set(status, p);
  }
  return p;
}

/** One parsed request head, kept while its body arrives. */
interface Head {
  readonly request: KmsRequest;
  readonly bodyStart: number;
  readonly length: number;
  readonly close: boolean;
}

/**
 * Serves one connection of the lean `net` transport: a minimal HTTP/1.1 parser for the requests the
 * AWS SDK sends (a header block, then exactly Content-Length body bytes; pipelined requests answered in
 * order), each handed to `dispatch`, the same function the http transport uses. Anything else (no
 * Content-Length on a POST, Transfer-Encoding, a header block over 16 KiB, a body over `maxBody`, a bad
 * request line) is answered with a 4xx and the connection closed.
 */
export function serveNetConnection(
  socket: Socket,
  maxBody: number,
  dispatch: (req: KmsRequest, reply: Reply, body: Buffer) => void,
): void {
  let buf: Buffer | undefined;
  let head: Head | undefined;
  let busy = false; // a request is being answered (latency faults answer later)
  let ended = false;
  let pumping = false;
  socket.setNoDelay(true);

  const reject = (status: number, message: string): void => {
    ended = true;
    buf = undefined;
    const body = JSON.stringify({ __type: 'SerializationException', message });
    socket.end(
      `${prefix(status, KMS_TYPE)}${Buffer.byteLength(body)}\r\nx-amzn-RequestId: ${randomUUID()}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  const parseHead = (b: Buffer, end: number): Head | undefined => {
    const lines = b.toString('latin1', 0, end).split('\r\n');
    const m = REQUEST_LINE.exec(lines[0] ?? '');
    if (m === null) {
      reject(400, 'Bad request line');
      return undefined;
    }
    const headers: Record<string, string> = {};
    const rawHeaders: string[] = [];
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) {
        reject(400, 'Bad header line');
        return undefined;
      }
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      rawHeaders.push(name, value);
      const lower = name.toLowerCase();
      const prev = headers[lower];
      headers[lower] = prev === undefined ? value : `${prev}, ${value}`;
    }
    if (headers['transfer-encoding'] !== undefined) {
      reject(411, 'Transfer-Encoding is not supported; send Content-Length');
      return undefined;
    }
    const cl = headers['content-length'];
    const method = m[1]!;
    let length = 0;
    if (cl === undefined) {
      if (method === 'POST') {
        reject(400, 'Content-Length is required');
        return undefined;
      }
    } else {
      if (!/^\d{1,10}$/.test(cl)) {
        reject(400, 'Bad Content-Length');
        return undefined;
      }
      length = Number(cl);
    }
    if (length > maxBody) {
      reject(413, 'Request body is too large');
      return undefined;
    }
    const connection = (headers['connection'] ?? '').toLowerCase();
    const close =
      connection.includes('close') || (m[3] === '0' && !connection.includes('keep-alive'));
    if ((headers['expect'] ?? '').toLowerCase() === '100-continue') {
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
    return {
      request: {
        method,
        url: m[2]!,
        headers,
        rawHeaders,
        socket,
      },
      bodyStart: end + 4,
      length,
      close,
    };
  };

  const pump = (): void => {
    if (pumping) return; // a synchronous answer inside dispatch: the outer loop continues
    pumping = true;
    try {
      while (!busy && !ended && buf !== undefined) {
        if (head === undefined) {
          const end = buf.indexOf(CRLFCRLF);
          if (end < 0) {
            if (buf.length > MAX_HEADER_BYTES) reject(400, 'Header block is too large');
            return;
          }
          if (end > MAX_HEADER_BYTES) {
            reject(400, 'Header block is too large');
            return;
          }
          head = parseHead(buf, end);
          if (head === undefined) return;
        }
        const stop = head.bodyStart + head.length;
        if (buf.length < stop) return;
        const body = buf.subarray(head.bodyStart, stop);
        buf = stop === buf.length ? undefined : buf.subarray(stop);
        const { request, close } = head;
        head = undefined;
        busy = true;
        let done = false;
        const reply: Reply = {
          send(status, contentType, text, requestId = randomUUID()) {
            if (done || socket.destroyed || socket.writableEnded) return;
            done = true;
            const out = `${prefix(status, contentType)}${Buffer.byteLength(text)}\r\nx-amzn-RequestId: ${requestId}\r\nConnection: ${close ? 'close' : 'keep-alive'}\r\n\r\n${text}`;
            if (close) {
              ended = true;
              buf = undefined;
              socket.end(out);
              return;
            }
            socket.write(out);
            busy = false;
            if (buf !== undefined) pump();
          },
          reset() {
            done = true;
            ended = true;
            socket.resetAndDestroy();
          },
          get done() {
            return done || socket.destroyed;
          },
        };
        dispatch(request, reply, body);
      }
    } catch {
      // A parser bug must not crash the server: drop this connection.
      socket.destroy();
    } finally {
      pumping = false;
    }
  };

  socket.on('data', (chunk: Buffer) => {
    if (ended) return;
    buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
    pump();
  });
  socket.on('error', () => {
    socket.destroy();
  });
}
