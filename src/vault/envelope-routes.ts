import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { StoreConflictError } from '../errors.js';
import { RECEIVER_ID_PATTERN, receiverName } from '../store/receiver-layout.js';
import {
  bulkSchema,
  DEFAULT_PAGE_LIMIT,
  envelopeListQuery,
  envelopeSchema,
  idParams,
} from './vault-schemas.js';
import type { VaultContext } from './vault-server.js';
import { sendError } from './vault-server.js';

/** Envelopes of one bulk request written at once. */
const BULK_PARALLEL_WRITES = 16;

interface EnvelopeMeta {
  id: string;
  bytes?: number;
  table?: string;
  operation?: string;
  timestamp?: string;
}

/**
 * The seed's envelope endpoints: `POST /envelopes`, `POST /envelopes/bulk`, `GET /envelopes`,
 * `GET /envelopes/{id}`. An `Idempotency-Key` header (or a bulk item's `id`) names the envelope,
 * so that a retried POST stores it once; without one the vault names it by arrival time.
 *
 * @example
 * ```ts
 * registerEnvelopeRoutes(app, { store, metrics, limits });
 * ```
 */
export function registerEnvelopeRoutes(app: FastifyInstance, context: VaultContext): void {
  const { store, metrics, limits } = context;

  const storeEnvelope = async (id: string, bytes: Buffer) => {
    const result = await store.put(receiverName({ kind: 'envelope', id }), bytes);
    metrics.objects.inc({ kind: 'envelope', created: String(result.created) });
    if (result.created) metrics.bytes.inc({ kind: 'envelope' }, bytes.byteLength);
    return result;
  };

  app.post(
    '/envelopes',
    {
      config: { role: 'write' },
      schema: { body: envelopeSchema },
      bodyLimit: limits.envelopeBytes,
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !RECEIVER_ID_PATTERN.test(key))) {
        return sendError(
          reply,
          400,
          'bad_request',
          'Idempotency-Key must match ^[A-Za-z0-9_-]{1,128}$',
        );
      }
      const id = key ?? arrivalId();

      // Stored byte for byte as sent; 201 only once the store says it is durable.
      const { created } = await storeEnvelope(id, request.rawBody!);
      return reply.code(created ? 201 : 200).send({ id, created });
    },
  );

  app.post(
    '/envelopes/bulk',
    { config: { role: 'write' }, schema: { body: bulkSchema }, bodyLimit: limits.bulkBytes },
    async (request, reply) => {
      const { items } = request.body as { items: Array<{ id?: string; envelope: unknown }> };
      const ids = items.map((item) => item.id ?? arrivalId());

      // Each item is stored on its own, several at once so that their flushes overlap; a
      // conflict on one does not undo the others.
      const results = await mapLimited(items, BULK_PARALLEL_WRITES, async (item, i) => {
        const id = ids[i]!;
        try {
          const { created } = await storeEnvelope(id, Buffer.from(JSON.stringify(item.envelope)));
          return { id, created };
        } catch (error) {
          if (!(error instanceof StoreConflictError)) throw error;
          return { id, error: 'conflict' as const };
        }
      });
      const conflicts = results.filter((result) => 'error' in result).length;
      return reply.code(conflicts > 0 ? 409 : 201).send({ results });
    },
  );

  app.get(
    '/envelopes',
    { config: { role: 'read' }, schema: { querystring: envelopeListQuery } },
    async (request) => {
      const query = request.query as { after?: string; limit?: number; fields?: 'id' | 'meta' };
      const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
      const startAfter =
        query.after === undefined ? undefined : receiverName({ kind: 'envelope', id: query.after });

      // One more than the page tells whether a next page exists.
      const ids: string[] = [];
      for await (const name of store.list('envelopes/', { startAfter })) {
        const match = /^envelopes\/([A-Za-z0-9_-]{1,128})\.json$/.exec(name);
        if (match === null) continue;
        ids.push(match[1]!);
        if (ids.length > limit) break;
      }
      const page = ids.slice(0, limit);
      const next = ids.length > limit ? page[page.length - 1] : null;
      const items =
        query.fields === 'id' ? page.map((id) => ({ id })) : await Promise.all(page.map(readMeta));
      return { items, next };
    },
  );

  app.get(
    '/envelopes/:id',
    { config: { role: 'read' }, schema: { params: idParams } },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const bytes = await store.get(receiverName({ kind: 'envelope', id }));
      if (bytes === undefined) return sendError(reply, 404, 'not_found', 'no such envelope');
      return sendBytes(reply, 'application/json', bytes);
    },
  );

  /** What the vault can see of an envelope: its size and the seed's clear-text fields. */
  async function readMeta(id: string): Promise<EnvelopeMeta> {
    const bytes = await store.get(receiverName({ kind: 'envelope', id }));
    if (bytes === undefined) return { id };
    try {
      const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
      const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
      return {
        id,
        bytes: bytes.byteLength,
        table: text(parsed.table),
        operation: text(parsed.operation),
        timestamp: text(parsed.timestamp),
      };
    } catch {
      return { id, bytes: bytes.byteLength };
    }
  }
}

/** Send stored bytes unchanged. */
export function sendBytes(reply: FastifyReply, type: string, bytes: Uint8Array): FastifyReply {
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return reply.code(200).type(type).send(body);
}

/** Map with at most `limit` calls in flight, keeping the input order in the result. */
async function mapLimited<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A vault-chosen id that sorts by arrival: milliseconds since 1970, then 64 random bits. */
function arrivalId(): string {
  return `${String(Date.now()).padStart(14, '0')}-${randomBytes(8).toString('hex')}`;
}
