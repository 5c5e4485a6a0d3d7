import type pg from 'pg';

/**
 * The receive deadline from the server's wal_sender_timeout, in milliseconds (0: none).
 *
 * @example
 * ```ts
 * const deadlineMs = await walSenderTimeoutMs(control); // 30000 with the default 60 s
 * ```
 */
export async function walSenderTimeoutMs(control: pg.Client): Promise<number> {
  const { rows } = await control.query<{ ms: string }>(
    "SELECT setting AS ms FROM pg_settings WHERE name = 'wal_sender_timeout'",
  );
  const ms = Number(rows[0]?.ms ?? 0);
  // NOTE: half the timeout (one keepalive interval): the server answers our pings at once, and
  // the deadline must fire before the server's own timeout closes the connection.
  return Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 2) : 0;
}

/**
 * A watch on a replication connection's silence. The server answers a ping at once, so past a
 * quarter of the deadline without a message the watch pings, and past the whole deadline it
 * calls `onDead` (once): a silent link (no FIN, no RST) never ends by itself.
 *
 * @example
 * ```ts
 * const watch = new ReceiveWatch(30_000, () => ping(), (error) => cut(error));
 * service.on('heartbeat', () => watch.touch());
 * watch.start(); … watch.stop();
 * ```
 */
export class ReceiveWatch {
  private received = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private dead = false;

  constructor(
    private readonly deadlineMs: number,
    private readonly ping: () => void,
    private readonly onDead: (error: Error) => void,
  ) {}

  /** A message arrived. */
  touch(): void {
    this.received = Date.now();
  }

  /** Start watching (a deadline of 0 watches nothing). */
  start(): void {
    if (this.deadlineMs <= 0 || this.timer !== undefined) return;
    this.received = Date.now();
    this.timer = setInterval(() => this.check(), Math.max(250, Math.floor(this.deadlineMs / 4)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    const silent = Date.now() - this.received;
    if (silent > this.deadlineMs) {
      if (this.dead) return;
      this.dead = true;
      this.onDead(
        new Error(
          `no message from the server for ${Math.round(silent / 1000)} s: connection presumed dead`,
        ),
      );
    } else if (silent > this.deadlineMs / 4) {
      this.ping();
    }
  }
}

/**
 * Cut a client's socket (a silent link never ends by itself); its query fails at once. Takes a
 * pg client or the replication library's service, which keeps its client in `_client`.
 *
 * @example
 * ```ts
 * destroySocket(control); // the pending query rejects with a connection error
 * ```
 */
export function destroySocket(owner: unknown): void {
  const holder = owner as {
    _client?: { connection?: { stream?: { destroy(): void } } };
    connection?: { stream?: { destroy(): void } };
  };
  (holder._client?.connection ?? holder.connection)?.stream?.destroy();
}

/**
 * `promise`, or a rejection after `ms` (calling `onTimeout` first).
 *
 * @example
 * ```ts
 * await withDeadline(readSlot(control, name), 10_000, () => destroySocket(control));
 * ```
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
