import { parentPort } from 'node:worker_threads';
import { ReplicatorError } from '../errors.js';
import { packTransactions } from './packed-transactions.js';
import type { OpenRequest, OpenResponse, WorkerRequest } from './segment-open-worker.js';
import { asBuffer, type OpenContext, openFetched } from './segment-opener.js';

/**
 * Entry of the worker thread that opens segments for restore (see segment-open-worker.ts):
 * it verifies, decrypts, decompresses and decodes each segment it is sent, in order, and
 * answers with the transactions packed into flat arrays.
 */
let context: OpenContext | undefined;

parentPort?.on('message', (request: WorkerRequest) => {
  if (request.type === 'init') {
    context = request.context;
    return;
  }
  parentPort!.postMessage(answer(request));
});

function answer(request: OpenRequest): OpenResponse {
  try {
    if (context === undefined) throw new Error('open segment: the worker was not given its keys');
    const opened = openFetched(context, {
      name: request.name,
      buffer: asBuffer(request.bytes),
      checkpoint: request.checkpoint === undefined ? undefined : asBuffer(request.checkpoint),
    });
    const { transactions, ...facts } = opened;
    return { id: request.id, facts, packed: packTransactions(transactions) };
  } catch (error) {
    // Only what the message and class say crosses back; no key material is ever in them.
    const failure = error instanceof Error ? error : new Error(String(error));
    const hint = failure instanceof ReplicatorError ? failure.hint : undefined;
    return { id: request.id, error: { name: failure.name, message: failure.message, hint } };
  }
}
