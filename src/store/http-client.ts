import http from 'node:http';
import https from 'node:https';
import { StoreUnavailableError } from '../errors.js';

/** Default give-up time for one request, in ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpClientOptions {
  /** Extra trusted CA certificates in PEM (a private vault's certificate authority). */
  ca?: string | Buffer;
  timeoutMs?: number;
}

/**
 * A small keep-alive HTTP(S) client over node:http, so that a store can trust a private CA and
 * bound every request in time. Connection failures and timeouts become
 * {@link StoreUnavailableError}; HTTP statuses are returned for the caller to interpret.
 *
 * @example
 * ```ts
 * const client = new HttpClient(new URL('https://vault.example:8443'));
 * const response = await client.request('GET', '/health');
 * ```
 */
export class HttpClient {
  readonly #base: URL;
  readonly #agent: http.Agent;
  readonly #timeoutMs: number;

  constructor(base: URL, options: HttpClientOptions = {}) {
    this.#base = base;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#agent =
      base.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, maxSockets: 16, ca: options.ca })
        : new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  request(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: Uint8Array; what: string },
  ): Promise<HttpResponse> {
    const basePath = this.#base.pathname.replace(/\/+$/, '');
    const url = new URL(`${basePath}${path}`, this.#base);
    const transport = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(options.body.byteLength);

    return new Promise((resolve, reject) => {
      const request = transport.request(url, { method, headers, agent: this.#agent });
      request.setTimeout(this.#timeoutMs, () => {
        request.destroy(new Error(`no answer within ${this.#timeoutMs} ms`));
      });
      request.on('error', (error) => {
        reject(
          new StoreUnavailableError(`${options.what}: ${error.message}`, {
            cause: error,
            hint: `check that the store at ${this.#base.origin} is running and reachable`,
          }),
        );
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => request.destroy(error));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
      });
      request.end(options.body === undefined ? undefined : Buffer.from(options.body));
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
