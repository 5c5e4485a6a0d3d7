import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import { StoreConflictError, StoreUnavailableError, UsageError } from '../errors.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { ObjectStore } from '../store/store.js';
import { MAX_OBJECT_BYTES } from '../store/store.js';
import { registerEnvelopeRoutes } from './envelope-routes.js';
import { RateLimiter } from './rate-limiter.js';
import { registerStreamRoutes } from './stream-routes.js';
import { TokenCheck, type TokenRole } from './token-check.js';
import { createVaultMetrics, type VaultMetrics } from './vault-metrics.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Which token a route needs; routes without one (health, metrics) are open. */
    role?: TokenRole;
  }
  interface FastifyRequest {
    /** The request body exactly as received, kept so that the vault stores bytes as sent. */
    rawBody?: Buffer;
  }
}

/** Request size limits and the per-client request rate. */
export interface VaultLimits {
  /** Largest single v1 envelope body, bytes (413 above). Default 1 MiB. */
  envelopeBytes: number;
  /** Largest bulk envelope body, bytes. Default 16 MiB. */
  bulkBytes: number;
  /** Largest segment or checkpoint body, bytes. Default {@link MAX_OBJECT_BYTES}. */
  objectBytes: number;
  /** Sustained requests per second per client address (429 above). Default 200. */
  ratePerSecond: number;
  /** Requests a client may send at once before the rate applies. Default 2 × rate. */
  burst: number;
}

export const DEFAULT_VAULT_LIMITS: VaultLimits = {
  envelopeBytes: 1024 * 1024,
  bulkBytes: 16 * 1024 * 1024,
  objectBytes: MAX_OBJECT_BYTES,
  ratePerSecond: 200,
  burst: 400,
};

export interface VaultOptions {
  /** Where objects go: a FileStore on the data dir, or an S3Store with --s3. */
  store: ObjectStore;
  writeToken: string;
  readToken: string;
  limits?: Partial<VaultLimits>;
  /** Serve every endpoint under this path, e.g. `/api`. Default: the root. */
  basePath?: string;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  logger?: Logger;
}

/** What route modules need from the server. */
export interface VaultContext {
  store: ObjectStore;
  metrics: VaultMetrics;
  limits: VaultLimits;
}

/**
 * Build the vault's Fastify server (not yet listening): the Cloud Receiver API over an object
 * store. It stores bytes as received and holds no key; see docs/VAULT.md for what it can see.
 *
 * @example
 * ```ts
 * const store = new FileStore('/srv/vault');
 * const app = await createVaultServer({ store, writeToken, readToken });
 * await app.listen({ host: '127.0.0.1', port: 8443 });
 * ```
 */
export async function createVaultServer(options: VaultOptions): Promise<FastifyInstance> {
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  if (basePath !== '' && !/^(\/[A-Za-z0-9._-]+)+$/.test(basePath)) {
    throw new UsageError(`invalid vault base path ${JSON.stringify(basePath)}`, {
      hint: 'give a path such as /api (letters, digits, . _ - between slashes)',
    });
  }
  const tokens = new TokenCheck(options);
  const limits = { ...DEFAULT_VAULT_LIMITS, ...options.limits };
  const limiter = new RateLimiter({ ratePerSecond: limits.ratePerSecond, burst: limits.burst });
  const metrics = createVaultMetrics();
  const log = options.logger ?? silentLogger;

  const app = Fastify({
    loggerInstance: log,
    // The vault writes its own one-line access log (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Longer than any valid id, so an over-long id gets the schema's 400 rather than a 414.
    routerOptions: { maxParamLength: 256 },
    bodyLimit: limits.envelopeBytes,
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
  }) as unknown as FastifyInstance;

  // Bodies are kept as raw bytes: envelopes are parsed only to be validated, then stored as sent.
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    try {
      done(null, JSON.parse(raw.toString('utf8')));
    } catch (error) {
      const reason = (error as Error).message.split('\n')[0];
      done(
        Object.assign(new Error(`invalid JSON body: ${reason}`), { statusCode: 400 }),
        undefined,
      );
    }
  });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_r, body, done) =>
    done(null, body),
  );

  // Rate limit first, then authenticate, both before any body is read.
  app.addHook('onRequest', async (request, reply) => {
    const role = request.routeOptions.config.role;
    if (role === undefined) return;
    const decision = limiter.take(request.ip);
    if (!decision.allowed) {
      reply.header('retry-after', String(decision.retryAfterSeconds));
      return sendError(reply, 429, 'rate_limited', 'too many requests: slow down and retry');
    }
    const granted = tokens.roleOf(request.headers.authorization);
    if (granted === undefined) {
      reply.header('www-authenticate', 'Bearer realm="vault"');
      return sendError(reply, 401, 'unauthorized', 'missing or invalid bearer token');
    }
    if (granted !== role) {
      return sendError(reply, 403, 'forbidden', `this token may not ${role} objects`);
    }
  });

  // One access log line and the metrics per request; no bodies, no headers, no tokens.
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    const seconds = reply.elapsedTime / 1000;
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: request.method, route }, seconds);
    log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        client: request.ip,
      },
      'request',
    );
  });

  app.setErrorHandler((error: FastifyError, _request, reply) => answerError(error, log, reply));
  app.setNotFoundHandler((_request, reply) =>
    sendError(reply, 404, 'not_found', 'no such endpoint'),
  );

  // Every endpoint under the base path, e.g. `/api` for the seed's `CLOUD_API_URL=…/api`.
  const context: VaultContext = { store: options.store, metrics, limits };
  await app.register(
    async (scope) => {
      scope.get('/health', async () => ({ status: 'ok' }));
      scope.get('/metrics', async (_request, reply) => {
        reply.type(metrics.registry.contentType);
        return metrics.registry.metrics();
      });
      registerEnvelopeRoutes(scope, context);
      registerStreamRoutes(scope, context);
    },
    { prefix: basePath },
  );
  return app;
}

/** Answer with the vault's error body `{ error, message }`. */
export function sendError(
  reply: FastifyReply,
  status: number,
  error: string,
  message: string,
): FastifyReply {
  return reply.code(status).type('application/json').send({ error, message });
}

/** Map a failure to its status: validation 400, conflict 409, store down 503, else 500. */
function answerError(error: FastifyError, log: Logger, reply: FastifyReply): FastifyReply {
  if (error.validation !== undefined) return sendError(reply, 400, 'bad_request', error.message);
  if (error instanceof StoreConflictError) {
    return sendError(reply, 409, 'conflict', 'a different object already exists under this id');
  }
  if (error instanceof UsageError) return sendError(reply, 400, 'bad_request', error.message);
  if (error instanceof StoreUnavailableError) {
    log.warn({ error: error.message }, 'storage unavailable');
    reply.header('retry-after', '1');
    return sendError(reply, 503, 'unavailable', 'storage temporarily unavailable, retry');
  }
  const status = error.statusCode ?? 500;
  if (status === 413) return sendError(reply, 413, 'payload_too_large', 'request body too large');
  if (status === 415) {
    return sendError(reply, 415, 'unsupported_media_type', 'unsupported Content-Type');
  }
  if (status >= 400 && status < 500) return sendError(reply, status, 'bad_request', error.message);
  log.error({ error: error.message }, 'request failed');
  return sendError(reply, 500, 'internal', 'internal error');
}
