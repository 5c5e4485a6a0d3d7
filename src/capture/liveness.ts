import type { Socket } from 'node:net';
import type pg from 'pg';

/** When a quiet connection is asked for a sign of life, and how long it has to answer. */
export interface LivenessOptions {
  /** Ask (SELECT 1) after this long without a byte from the server. */
  idleMs: number;
  /** Presume the link dead when no byte arrives this long after asking. */
  deadlineMs: number;
}

/** 15 s of silence, then 10 s to answer: a dead link is noticed within about 25 s. */
export const DEFAULT_LIVENESS: LivenessOptions = { idleMs: 15_000, deadlineMs: 10_000 };

/**
 * Watch a connection that may stay quiet for long (one that LISTENs): after `idleMs` without a
 * byte from the server, send `SELECT 1`; when no byte arrives within `deadlineMs` after that,
 * cut the socket and call `onDead`. The client then fails its queries and emits 'error' or
 * 'end', which its owner already treats as a lost connection. TCP keepalive alone takes
 * minutes (the system's probe interval and count); a link that silently drops packets (no FIN,
 * no RST) would otherwise leave a LISTEN deaf for that long. Returns a function that stops the
 * watch.
 *
 * NOTE: the ping waits behind any query in flight on the same connection, so a query that
 * sends nothing back for `idleMs + deadlineMs` counts as a dead link too. The connections
 * watched run only short statements besides their LISTEN.
 *
 * @example
 * ```ts
 * const stop = watchLiveness(client, DEFAULT_LIVENESS, (error) => log.warn(error.message));
 * client.on('end', stop);
 * ```
 */
export function watchLiveness(
  client: pg.Client,
  options: LivenessOptions,
  onDead: (error: Error) => void,
): () => void {
  const stream = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  if (stream === undefined) return () => {};
  let lastByte = Date.now();
  let askedAt: number | undefined;
  const onData = () => {
    lastByte = Date.now();
    askedAt = undefined;
  };
  stream.on('data', onData);
  const stop = () => {
    clearInterval(timer);
    stream.off('data', onData);
  };
  const check = () => {
    const now = Date.now();
    if (askedAt === undefined) {
      if (now - lastByte < options.idleMs) return;
      askedAt = now;
      client.query('SELECT 1').catch(() => {});
      return;
    }
    if (now - askedAt <= options.deadlineMs) return;
    stop();
    const silent = Math.round((now - lastByte) / 1000);
    stream.destroy();
    onDead(new Error(`no byte from the server for ${silent} s: connection presumed dead`));
  };
  const tick = Math.max(50, Math.floor(Math.min(options.idleMs, options.deadlineMs) / 4));
  const timer = setInterval(check, tick);
  timer.unref();
  return stop;
}
