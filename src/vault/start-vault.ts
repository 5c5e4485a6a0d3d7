import type { FastifyInstance } from 'fastify';
import { createVaultServer, type VaultOptions } from './vault-server.js';

export interface StartVaultOptions extends VaultOptions {
  /** Address to bind; the operator decides. Default `127.0.0.1`. */
  host?: string;
  /** TCP port; 0 picks a free one. */
  port: number;
}

export interface RunningVault {
  /** Base URL clients use, e.g. `https://127.0.0.1:8443` (with the base path, if any). */
  url: string;
  app: FastifyInstance;
  /** Stop accepting requests, finish those in flight, then close the store. */
  close(): Promise<void>;
}

/**
 * Start the vault and listen. `close()` is the graceful shutdown the CLI calls on SIGTERM/SIGINT.
 *
 * @example
 * ```ts
 * const vault = await startVault({ store, writeToken, readToken, port: 0 });
 * const store = await openStore(vault.url, { token: writeToken });
 * await vault.close();
 * ```
 */
export async function startVault(options: StartVaultOptions): Promise<RunningVault> {
  const app = await createVaultServer(options);
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port });

  // The URL clients reach: the bound port, with IPv6 addresses in brackets.
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const scheme = options.tls === undefined ? 'http' : 'https';
  const printable = host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | undefined;
  return {
    url: `${scheme}://${printable}:${port}${(options.basePath ?? '').replace(/\/+$/, '')}`,
    app,
    close() {
      closed ??= (async () => {
        await app.close();
        await options.store.close();
      })();
      return closed;
    },
  };
}
