import { connect, createServer, type Server, type Socket } from 'node:net';

/** How the proxy treats traffic; see {@link startTcpProxy}. */
export type ProxyMode =
  /** Forward bytes both ways. */
  | { kind: 'pass' }
  /** Hold every byte until the mode changes (a stalled network: connections stay open). */
  | { kind: 'stall' }
  /** Forward each chunk after a delay (a slow link). */
  | { kind: 'delay'; ms: number }
  /** Forward, but cut each new connection once it has sent `bytes` bytes upstream. */
  | { kind: 'cut-after'; bytes: number }
  /** Accept and answer every new connection with a raw HTTP status, then close it. */
  | { kind: 'http-error'; status: number }
  /** Accept and close every new connection at once. */
  | { kind: 'reset' };

export interface TcpProxy {
  readonly port: number;
  /** Connections opened through the proxy so far. */
  readonly connections: number;
  setMode(mode: ProxyMode): void;
  /** Destroy every open connection (both sides), as a network cut does. */
  cutAll(): void;
  /** Cut every connection and stop listening: new ones are refused until {@link listen}. */
  refuse(): Promise<void>;
  /** Listen again on the same port. */
  listen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 between a client (the replicator) and a server (PostgreSQL, the
 * vault) that can cut, stall, slow down or break connections on command: real network faults
 * on real sockets, without touching either side.
 *
 * @example
 * ```ts
 * const proxy = await startTcpProxy({ targetPort: postgres.port });
 * proxy.cutAll(); await proxy.refuse();   // the link is down
 * await proxy.listen();                   // and back
 * ```
 */
export async function startTcpProxy(options: {
  targetPort: number;
  targetHost?: string;
  port?: number;
}): Promise<TcpProxy> {
  const host = options.targetHost ?? '127.0.0.1';
  let mode: ProxyMode = { kind: 'pass' };
  let count = 0;
  const open = new Set<Socket>();
  const resumers = new Set<() => void>();

  const handle = (client: Socket) => {
    count += 1;
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});

    // Modes decided when the connection opens.
    if (mode.kind === 'reset') {
      client.destroy();
      return;
    }
    if (mode.kind === 'http-error') {
      const status = mode.status;
      client.once('data', () => {
        client.end(
          `HTTP/1.1 ${status} Fault Injected\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
        );
      });
      return;
    }
    const cutAfter = mode.kind === 'cut-after' ? mode.bytes : undefined;
    let sent = 0;
    const upstream = connect({ port: options.targetPort, host });
    open.add(upstream);
    upstream.on('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());

    // Bytes both ways, through whatever mode holds when each chunk arrives.
    const forward = (from: Socket, to: Socket, upward: boolean) => {
      from.on('data', (chunk: Buffer) => {
        if (upward && cutAfter !== undefined) {
          const room = cutAfter - sent;
          sent += chunk.length;
          if (room <= chunk.length) {
            if (room > 0) to.write(chunk.subarray(0, room));
            from.destroy();
            to.destroy();
            return;
          }
        }
        deliver(from, to, chunk);
      });
    };
    forward(client, upstream, true);
    forward(upstream, client, false);
  };

  const deliver = (from: Socket, to: Socket, chunk: Buffer) => {
    if (mode.kind === 'stall') {
      from.pause();
      const resume = () => {
        resumers.delete(resume);
        from.resume();
        deliver(from, to, chunk);
      };
      resumers.add(resume);
      return;
    }
    if (mode.kind === 'delay') {
      from.pause();
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
        from.resume();
      }, mode.ms);
      return;
    }
    if (!to.destroyed) to.write(chunk);
  };

  let server: Server = createServer(handle);
  const listenOn = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  const port = await listenOn(options.port ?? 0);

  return {
    port,
    get connections() {
      return count;
    },
    setMode(next) {
      mode = next;
      if (next.kind !== 'stall') for (const resume of [...resumers]) resume();
    },
    cutAll() {
      for (const socket of open) socket.destroy();
      open.clear();
    },
    refuse() {
      for (const socket of open) socket.destroy();
      open.clear();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async listen() {
      server = createServer(handle);
      await listenOn(port);
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
