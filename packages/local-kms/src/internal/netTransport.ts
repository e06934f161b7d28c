import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { HotHeaders, KmsRequest, Reply } from './transport.js';

/** The largest header block accepted, as node:http's default. */
export const MAX_HEADER_BYTES = 16 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n');
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
const KMS_TYPE = 'application/x-amz-json-1.1';
/** Status line plus the KMS content type, built once per status. */
const PREFIXES = new Map<number, string>();

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

/**
 * Header names the AWS SDK sends (already in lower case) and those the transport reads, by length:
 * a name found here is matched in place and its constant used, so the common request lowers, slices and
 * hashes no name at all.
 */
const KNOWN_NAMES: readonly (readonly string[] | undefined)[] = (() => {
  const byLength: string[][] = [];
  for (const n of [
    'host',
    'accept',
    'expect',
    'connection',
    'user-agent',
    'x-amz-date',
    'content-type',
    'x-amz-target',
    'authorization',
    'content-length',
    'accept-encoding',
    'amz-sdk-request',
    'x-amz-user-agent',
    'transfer-encoding',
    'x-amz-content-sha256',
    'x-amz-security-token',
    'amz-sdk-invocation-id',
  ]) {
    (byLength[n.length] ??= []).push(n);
  }
  return byLength;
})();

/**
 * Lower-case header names as sent, for names not in {@link KNOWN_NAMES}, so those are lowered once
 * per process, not once per request. Bounded: names beyond the first 256 distinct ones are lowered
 * each time.
 */
const LOWER = new Map<string, string>();
function lower(name: string): string {
  let l = LOWER.get(name);
  if (l === undefined) {
    l = name.toLowerCase();
    if (LOWER.size < 256) LOWER.set(name, l);
  }
  return l;
}

/** The known name spelled exactly at `text[start, end)`, or `undefined`. */
function knownName(text: string, start: number, end: number): string | undefined {
  const candidates = KNOWN_NAMES[end - start];
  if (candidates === undefined) return undefined;
  for (const c of candidates) if (text.startsWith(c, start)) return c;
  return undefined;
}

/** Optional whitespace (RFC 9110 §5.6.3): space or horizontal tab. */
function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

/** What `String.prototype.trim` removes, within latin1: tab to carriage return, space, no-break space. */
function isTrimmed(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0;
}

/**
 * Where `text[start, end)` begins and ends once trimmed as a header name or value: when it starts or
 * ends with optional whitespace (RFC 9110 §5.5), everything `trim()` would remove goes at both ends.
 * The end lands in `trimmedEnd`, so no pair is allocated per header.
 */
let trimmedEnd = 0;
function trimmedStart(text: string, start: number, end: number): number {
  let s = start;
  let e = end;
  if (s < e && (isOws(text.charCodeAt(s)) || isOws(text.charCodeAt(e - 1)))) {
    while (s < e && isTrimmed(text.charCodeAt(s))) s++;
    while (e > s && isTrimmed(text.charCodeAt(e - 1))) e--;
  }
  trimmedEnd = e;
  return s;
}

function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 10) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** The trimmed value at `text[start, end)`, after `prev` as `headers` joins a repeated name. */
function joined(prev: string | undefined, text: string, start: number, end: number): string {
  const value = text.slice(trimmedStart(text, start, end), trimmedEnd);
  return prev === undefined ? value : `${prev}, ${value}`;
}

/**
 * A request of the net transport. `headers` and `rawHeaders` are built from the header block on first
 * use: the common KMS call only needs X-Amz-Target and Authorization, which the parser reads as it
 * checks the block ({@link HotHeaders}), so it slices two values instead of two dozen names and
 * values and builds no header object.
 */
class NetRequest implements KmsRequest, HotHeaders {
  readonly hot: HotHeaders = this;
  target: string | undefined = undefined;
  authorization: string | undefined = undefined;
  #headers: IncomingHttpHeaders | undefined;
  #rawHeaders: string[] | undefined;

  constructor(
    readonly method: string,
    readonly url: string,
    readonly socket: KmsRequest['socket'],
    /** The header block, already checked by parseHead, and where its first header line starts. */
    private readonly text: string,
    private readonly from: number,
  ) {}

  get headers(): IncomingHttpHeaders {
    if (this.#headers === undefined) this.#build();
    return this.#headers!;
  }

  get rawHeaders(): string[] {
    if (this.#rawHeaders === undefined) this.#build();
    return this.#rawHeaders!;
  }

  /** Lower-case names with repeated ones joined by ", ", and the names and values as sent. */
  #build(): void {
    const text = this.text;
    const headers: IncomingHttpHeaders = {};
    const rawHeaders: string[] = [];
    let pos = this.from;
    while (pos < text.length) {
      let next = text.indexOf('\r\n', pos);
      if (next < 0) next = text.length;
      const colon = text.indexOf(':', pos);
      const ns = trimmedStart(text, pos, colon);
      const ne = trimmedEnd;
      const vs = trimmedStart(text, colon + 1, next);
      const value = text.slice(vs, trimmedEnd);
      const known = knownName(text, ns, ne);
      const name = known ?? text.slice(ns, ne);
      rawHeaders.push(name, value);
      const key = known ?? lower(name);
      const prev = headers[key];
      headers[key] = prev === undefined ? value : `${String(prev)}, ${value}`;
      pos = next + 2;
    }
    this.#headers = headers;
    this.#rawHeaders = rawHeaders;
  }
}

/** A parse failure: the status and message the connection is closed with. */
class Rejected {
  constructor(
    readonly status: number,
    readonly message: string,
  ) {}
}

/** One parsed request head, kept while its body arrives. */
interface Head {
  readonly request: KmsRequest;
  readonly bodyStart: number;
  readonly length: number;
  readonly close: boolean;
  readonly expectContinue: boolean;
}

/**
 * Parses the header block `b[0, end)` (without its final CRLFCRLF) of one HTTP/1.x request: a scan
 * with indexOf over one latin1 string, no regular expressions and no split.
 */
export function parseHead(
  b: Buffer,
  end: number,
  maxBody: number,
  socket: KmsRequest['socket'],
): Head | Rejected {
  const text = b.toString('latin1', 0, end);
  let eol = text.indexOf('\r\n');
  if (eol < 0) eol = text.length;
  // Request line: METHOD SP target SP HTTP/1.x
  const sp1 = text.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : text.indexOf(' ', sp1 + 1);
  if (
    sp1 <= 0 ||
    sp2 <= sp1 + 1 ||
    eol - sp2 !== 9 ||
    !text.startsWith('HTTP/1.', sp2 + 1) ||
    (text.charCodeAt(eol - 1) !== 49 && text.charCodeAt(eol - 1) !== 48)
  ) {
    return new Rejected(400, 'Bad request line');
  }
  const method = text.slice(0, sp1);
  for (let i = 0; i < method.length; i++) {
    const c = method.charCodeAt(i);
    if (c < 65 || c > 90) return new Rejected(400, 'Bad request line');
  }
  const url = text.slice(sp1 + 1, sp2);
  if (url.includes(' ')) return new Rejected(400, 'Bad request line');
  const http10 = text.charCodeAt(eol - 1) === 48;

  const request = new NetRequest(method, url, socket, text, eol + 2);
  // Only the headers the transport and the handler's hot path read are sliced here; `headers` and
  // `rawHeaders` are built from the same text if something asks for them.
  let transferEncoding: string | undefined;
  let cl: string | undefined;
  let connection: string | undefined;
  let expect: string | undefined;
  let pos = eol + 2;
  while (pos < text.length) {
    let next = text.indexOf('\r\n', pos);
    if (next < 0) next = text.length;
    const colon = text.indexOf(':', pos);
    if (colon <= pos || colon > next) return new Rejected(400, 'Bad header line');
    const ns = trimmedStart(text, pos, colon);
    const key = knownName(text, ns, trimmedEnd) ?? lower(text.slice(ns, trimmedEnd));
    switch (key) {
      case 'x-amz-target':
        request.target = joined(request.target, text, colon + 1, next);
        break;
      case 'authorization':
        request.authorization = joined(request.authorization, text, colon + 1, next);
        break;
      case 'content-length':
        cl = joined(cl, text, colon + 1, next);
        break;
      case 'transfer-encoding':
        transferEncoding = joined(transferEncoding, text, colon + 1, next);
        break;
      case 'connection':
        connection = joined(connection, text, colon + 1, next);
        break;
      case 'expect':
        expect = joined(expect, text, colon + 1, next);
        break;
      default:
        break;
    }
    pos = next + 2;
  }
  if (transferEncoding !== undefined) {
    return new Rejected(411, 'Transfer-Encoding is not supported; send Content-Length');
  }
  let length = 0;
  if (cl === undefined) {
    if (method === 'POST') return new Rejected(400, 'Content-Length is required');
  } else {
    if (!isDigits(cl)) return new Rejected(400, 'Bad Content-Length');
    length = Number(cl);
  }
  if (length > maxBody) return new Rejected(413, 'Request body is too large');
  const close =
    connection === undefined
      ? http10
      : connection.toLowerCase().includes('close') ||
        (http10 && !connection.toLowerCase().includes('keep-alive'));
  return {
    request,
    bodyStart: end + 4,
    length,
    close,
    expectContinue: expect !== undefined && expect.toLowerCase() === '100-continue',
  };
}

/** Options of {@link serveNetConnection}. */
export interface NetConnectionOptions {
  readonly maxBody: number;
  readonly dispatch: (req: KmsRequest, reply: Reply, body: Buffer) => void;
}

/** One open connection, as the idle sweep sees it. */
export interface NetConnection {
  /** The sweep tick of the last byte read or written. */
  lastActive: number;
  /** True while a request is being answered (a latency fault answers later): never idle then. */
  readonly busy: boolean;
  readonly socket: Socket;
}

/**
 * Serves one connection of the lean `net` transport: a minimal HTTP/1.1 parser for the requests the
 * AWS SDK sends (a header block, then exactly Content-Length body bytes; pipelined requests answered in
 * order), each handed to `dispatch`, the same function the http transport uses. Anything else (no
 * Content-Length on a POST, Transfer-Encoding, a header block over 16 KiB, a body over `maxBody`, a bad
 * request line) is answered with a 4xx and the connection closed. While an answer is pending (an
 * injected latency), the socket is paused, so pipelined requests wait in the kernel, not in memory.
 */
export function serveNetConnection(
  socket: Socket,
  { maxBody, dispatch }: NetConnectionOptions,
  tick: () => number,
): NetConnection {
  let buf: Buffer | undefined;
  let head: Head | undefined;
  let ended = false;
  let pumping = false;
  let paused = false;
  socket.setNoDelay(true);
  const conn = { lastActive: tick(), busy: false, socket };

  const reject = (status: number, message: string): void => {
    ended = true;
    buf = undefined;
    const body = JSON.stringify({ __type: 'SerializationException', message });
    socket.end(
      `${prefix(status, KMS_TYPE)}${Buffer.byteLength(body)}\r\nx-amzn-RequestId: ${randomUUID()}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  const pump = (): void => {
    if (pumping) return; // a synchronous answer inside dispatch: the outer loop continues
    pumping = true;
    try {
      while (!conn.busy && !ended && buf !== undefined) {
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
          const parsed = parseHead(buf, end, maxBody, socket);
          if (parsed instanceof Rejected) {
            reject(parsed.status, parsed.message);
            return;
          }
          head = parsed;
          if (head.expectContinue) socket.write('HTTP/1.1 100 Continue\r\n\r\n');
        }
        const stop = head.bodyStart + head.length;
        if (buf.length < stop) return;
        const body = buf.subarray(head.bodyStart, stop);
        buf = stop === buf.length ? undefined : buf.subarray(stop);
        const { request, close } = head;
        head = undefined;
        conn.busy = true;
        dispatch(request, new NetReply(socket, close, answered), body);
        if (conn.busy && !paused && !socket.destroyed) {
          // Answered later: hold further requests back in the kernel.
          paused = true;
          socket.pause();
        }
      }
    } catch {
      // A parser bug must not crash the server: drop this connection.
      socket.destroy();
    } finally {
      pumping = false;
    }
  };

  /** Called by a reply once its answer is written (`closing` when the connection is ending). */
  function answered(closing: boolean): void {
    conn.lastActive = tick();
    if (closing) {
      ended = true;
      buf = undefined;
      return;
    }
    conn.busy = false;
    if (paused) {
      paused = false;
      socket.resume();
    }
    if (buf !== undefined) pump();
  }

  socket.on('data', (chunk: Buffer) => {
    if (ended) return;
    conn.lastActive = tick();
    buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
    pump();
  });
  socket.on('error', () => {
    socket.destroy();
  });
  return conn;
}

/** The net transport's {@link Reply}: the whole response in one write. */
class NetReply implements Reply {
  #done = false;
  constructor(
    private readonly socket: Socket,
    private readonly close: boolean,
    private readonly answered: (closing: boolean) => void,
  ) {}

  send(status: number, contentType: string, text: string, requestId: string = randomUUID()): void {
    const socket = this.socket;
    if (this.#done || socket.destroyed || socket.writableEnded) return;
    this.#done = true;
    const out = `${prefix(status, contentType)}${Buffer.byteLength(text)}\r\nx-amzn-RequestId: ${requestId}\r\nConnection: ${this.close ? 'close' : 'keep-alive'}\r\n\r\n${text}`;
    if (this.close) {
      this.answered(true);
      socket.end(out);
      return;
    }
    socket.write(out);
    this.answered(false);
  }

  reset(): void {
    this.#done = true;
    this.answered(true);
    this.socket.resetAndDestroy();
  }

  get done(): boolean {
    return this.#done || this.socket.destroyed;
  }
}
