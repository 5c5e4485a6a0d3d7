#!/usr/bin/env node
/**
 * Container health check: exit 0 when the replicator's `/healthz` answers 200 within the
 * timeout, 1 otherwise (refused, timed out, any other status). No dependencies, so it runs in
 * the runtime image as it is.
 *
 * Where it looks, first match wins:
 *   HEALTHCHECK_URL                      full URL, e.g. http://127.0.0.1:9464/healthz
 *   METRICS_PORT                         port of `crypto-replicator run --metrics-port`
 *   9464                                 the image's default
 * HEALTHCHECK_TIMEOUT_MS bounds the whole request (default 3000).
 *
 * @example
 * ```sh
 * METRICS_PORT=9464 node docker/healthcheck.mjs && echo healthy
 * ```
 */
import { request } from 'node:http';

const DEFAULT_METRICS_PORT = 9464;
const DEFAULT_TIMEOUT_MS = 3000;

/** The URL to probe, from the environment. */
function healthUrl(env = process.env) {
  if (env.HEALTHCHECK_URL) return env.HEALTHCHECK_URL;
  const port = Number(env.METRICS_PORT ?? DEFAULT_METRICS_PORT);
  return `http://127.0.0.1:${port}/healthz`;
}

/** Resolve with the HTTP status of a GET, or with a short reason when there is none. */
function probe(url, timeoutMs) {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ status: 0, reason: `no answer within ${timeoutMs} ms` });
    });
    req.on('error', (error) => resolve({ status: 0, reason: error.message }));
    req.end();
  });
}

async function main() {
  const url = healthUrl();
  const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS ?? DEFAULT_TIMEOUT_MS);

  // Docker keeps the last lines of output with the health state: make them say why.
  const result = await probe(url, timeoutMs);
  if (result.status === 200) {
    process.stdout.write(`healthy: ${url} answered 200\n`);
    process.exit(0);
  }
  const why = result.status === 0 ? result.reason : `answered ${result.status}`;
  process.stdout.write(`unhealthy: ${url} ${why}\n`);
  process.exit(1);
}

await main();
