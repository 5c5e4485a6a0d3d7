import type { FastifyInstance } from 'fastify';
import { parseSequence, receiverName, type StreamObjectKind } from '../store/receiver-layout.js';
import { sendBytes } from './envelope-routes.js';
import {
  DEFAULT_PAGE_LIMIT,
  objectParams,
  sequenceListQuery,
  streamListQuery,
  streamParams,
} from './vault-schemas.js';
import type { VaultContext } from './vault-server.js';
import { sendError } from './vault-server.js';

/** URL folder of each kind of v2 stream object. */
const KINDS: Array<{ kind: StreamObjectKind; folder: string }> = [
  { kind: 'segment', folder: 'segments' },
  { kind: 'checkpoint', folder: 'checkpoints' },
];

/** Sorts after every character allowed in a name, to skip a whole stream when listing. */
const AFTER_EVERYTHING = '~';

/**
 * The v2 endpoints, in the style of the seed's: `GET /streams`, and for segments and checkpoints
 * `PUT /streams/{stream}/{kind}/{seq}` (raw bytes), `GET /streams/{stream}/{kind}?after=&limit=`
 * and `GET /streams/{stream}/{kind}/{seq}`.
 *
 * @example
 * ```ts
 * registerStreamRoutes(app, { store, metrics, limits });
 * ```
 */
export function registerStreamRoutes(app: FastifyInstance, context: VaultContext): void {
  const { store, metrics, limits } = context;

  app.get(
    '/streams',
    { config: { role: 'read' }, schema: { querystring: streamListQuery } },
    async (request) => {
      const query = request.query as { after?: string; limit?: number };
      const limit = query.limit ?? DEFAULT_PAGE_LIMIT;

      // Each found stream restarts the listing past all of its objects.
      // NOTE: one list call per stream; fine for the handful of streams a store holds.
      const streams: string[] = [];
      let startAfter =
        query.after === undefined ? undefined : `streams/${query.after}/${AFTER_EVERYTHING}`;
      while (streams.length <= limit) {
        let found: string | undefined;
        for await (const name of store.list('streams/', { startAfter })) {
          found = /^streams\/([0-9a-f]{32})\//.exec(name)?.[1];
          if (found !== undefined) break;
        }
        if (found === undefined) break;
        streams.push(found);
        startAfter = `streams/${found}/${AFTER_EVERYTHING}`;
      }
      const page = streams.slice(0, limit);
      const next = streams.length > limit ? page[page.length - 1] : null;
      return { items: page.map((stream) => ({ stream })), next };
    },
  );

  for (const { kind, folder } of KINDS) {
    app.put(
      `/streams/:stream/${folder}/:seq`,
      {
        config: { role: 'write' },
        schema: { params: objectParams },
        bodyLimit: limits.objectBytes,
      },
      async (request, reply) => {
        const { stream, seq } = request.params as { stream: string; seq: string };
        const sequence = parseSequence(seq);
        if (sequence === undefined) {
          return sendError(reply, 400, 'bad_request', 'params/seq must be 1 to 2^53-1');
        }
        if (!Buffer.isBuffer(request.body)) {
          return sendError(reply, 415, 'unsupported_media_type', 'send application/octet-stream');
        }

        // 201 only once the store reports the object durable.
        const bytes = request.body;
        const result = await store.put(receiverName({ kind, stream, sequence }), bytes);
        metrics.objects.inc({ kind, created: String(result.created) });
        if (result.created) metrics.bytes.inc({ kind }, bytes.byteLength);
        return reply
          .code(result.created ? 201 : 200)
          .send({ stream, sequence, created: result.created });
      },
    );

    app.get(
      `/streams/:stream/${folder}`,
      {
        config: { role: 'read' },
        schema: { params: streamParams, querystring: sequenceListQuery },
      },
      async (request) => {
        const { stream } = request.params as { stream: string };
        const query = request.query as { after?: number; limit?: number };
        const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
        const startAfter =
          query.after === undefined || query.after === 0
            ? undefined
            : receiverName({ kind, stream, sequence: query.after });

        const sequences: number[] = [];
        for await (const name of store.list(`streams/${stream}/${folder}/`, { startAfter })) {
          const digits = /\/([0-9]{20})\.(?:seg|ckpt)$/.exec(name)?.[1];
          const sequence = digits === undefined ? undefined : Number(digits);
          if (sequence === undefined || !Number.isSafeInteger(sequence)) continue;
          sequences.push(sequence);
          if (sequences.length > limit) break;
        }
        const page = sequences.slice(0, limit);
        const next = sequences.length > limit ? page[page.length - 1] : null;
        return { items: page.map((sequence) => ({ sequence })), next };
      },
    );

    app.get(
      `/streams/:stream/${folder}/:seq`,
      { config: { role: 'read' }, schema: { params: objectParams } },
      async (request, reply) => {
        const { stream, seq } = request.params as { stream: string; seq: string };
        const sequence = parseSequence(seq);
        if (sequence === undefined) {
          return sendError(reply, 400, 'bad_request', 'params/seq must be 1 to 2^53-1');
        }
        const bytes = await store.get(receiverName({ kind, stream, sequence }));
        if (bytes === undefined) return sendError(reply, 404, 'not_found', `no such ${kind}`);
        return sendBytes(reply, 'application/octet-stream', bytes);
      },
    );
  }
}
