import { Counter, Histogram, Registry } from 'prom-client';

/** The vault's Prometheus metrics, in a registry of its own (no global default registry). */
export interface VaultMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
  objects: Counter<'kind' | 'created'>;
  bytes: Counter<'kind'>;
}

/**
 * Create the vault's metrics: requests by route and status, request duration, objects and bytes
 * stored by kind. They reveal counts and sizes only, which the vault sees anyway.
 *
 * @example
 * ```ts
 * const metrics = createVaultMetrics();
 * metrics.objects.inc({ kind: 'segment', created: 'true' });
 * ```
 */
export function createVaultMetrics(): VaultMetrics {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({
      name: 'vault_requests_total',
      help: 'HTTP requests answered, by method, route and status code',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'vault_request_duration_seconds',
      help: 'Time to answer a request, in seconds',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    objects: new Counter({
      name: 'vault_objects_stored_total',
      help: 'Objects accepted, by kind, and whether new (created) or an identical repeat',
      labelNames: ['kind', 'created'],
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'vault_stored_bytes_total',
      help: 'Bytes of newly stored objects, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
  };
}
