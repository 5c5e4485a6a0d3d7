import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, silentLogger } from '../log/logger.js';
import {
  checkLiveness,
  checkReadiness,
  type HealthInput,
  type HealthThresholds,
  type HealthVerdict,
} from './health.js';
import type { ReplicatorMetrics } from './metrics.js';

export interface ObservabilityServerOptions {
  port: number;
  host?: string;
  metrics: ReplicatorMetrics;
  health: () => HealthInput;
  thresholds: HealthThresholds;
  logger?: Logger;
}

/** A running metrics and health server. */
export interface ObservabilityServer {
  /** The port it listens on (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serve `GET /metrics` (Prometheus text format), `GET /healthz` (liveness) and `GET /readyz`
 * (readiness): 200 when fine, 503 with the reasons as JSON when not.
 *
 * @example
 * ```ts
 * const server = await startObservabilityServer({ port: 9464, metrics, health, thresholds });
 * await server.close();
 * ```
 */
export async function startObservabilityServer(
  options: ObservabilityServerOptions,
): Promise<ObservabilityServer> {
  const log = options.logger ?? silentLogger;
  const verdict = (check: typeof checkLiveness): HealthVerdict =>
    check(options.health(), options.thresholds);

  // One small router: three read-only paths, nothing else.
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'text/plain', 'method not allowed\n');
    } else if (path === '/metrics') {
      options.metrics.registry
        .metrics()
        .then((text) => send(response, 200, options.metrics.registry.contentType, text))
        .catch((error: Error) => send(response, 500, 'text/plain', `${error.message}\n`));
    } else if (path === '/healthz' || path === '/readyz') {
      const result = verdict(path === '/healthz' ? checkLiveness : checkReadiness);
      const body = JSON.stringify({ status: result.ok ? 'ok' : 'fail', reasons: result.reasons });
      send(response, result.ok ? 200 : 503, 'application/json', `${body}\n`);
    } else {
      send(response, 404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
    }
  });

  // Listen, and report the bound port (port 0 picks a free one).
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, host: options.host ?? '0.0.0.0' }, 'metrics server listening');

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(body);
}
