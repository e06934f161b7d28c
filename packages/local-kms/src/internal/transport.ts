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
