import type { IncomingHttpHeaders } from 'node:http';

/**
 * What the shared request handler reads of a request, whichever transport parsed it: node:http's
 * `IncomingMessage` fits as is, and the lean `net` transport builds one. Header names in `headers` are
 * lower case; `rawHeaders` keeps them as sent (name, value, name, value...).
 */
export interface KmsRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly socket: { readonly remoteAddress?: string | undefined };
  /**
   * Set by the net transport, which reads these headers as it parses the head, so that the common
   * request never builds `headers`; node:http's request has no such member and `headers` is read.
   */
  readonly hot?: HotHeaders | undefined;
}

/** The headers every KMS call needs, as `headers` would give them (a repeated name joined by ", "). */
export interface HotHeaders {
  readonly target: string | undefined;
  readonly authorization: string | undefined;
}

/** How the shared request handler answers, whichever transport carries the answer. */
export interface Reply {
  /** Sends one whole response. */
  send(status: number, contentType: string, body: string, requestId?: string): void;
  /** Resets the connection with no response (the injected `reset` fault). */
  reset(): void;
  /** True once a response was sent or the connection is gone. */
  readonly done: boolean;
}
