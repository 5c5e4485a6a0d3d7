/**
 * Map an async sequence through `load`, keeping up to `depth` loads running ahead of the
 * consumer, and yield results in input order. A failed load is thrown when its turn comes.
 * Memory holds at most `depth` results.
 *
 * @example
 * ```ts
 * for await (const bytes of prefetch(names, (name) => store.get(name), 3)) use(bytes);
 * ```
 */
export async function* prefetch<I, O>(
  input: AsyncIterable<I>,
  load: (item: I) => Promise<O>,
  depth: number,
): AsyncGenerator<O> {
  const iterator = input[Symbol.asyncIterator]();
  const queue: Array<Promise<O>> = [];
  let done = false;

  // Start loads until the window is full or the input ends.
  const fill = async (): Promise<void> => {
    while (!done && queue.length < depth) {
      const next = await iterator.next();
      if (next.done) {
        done = true;
        return;
      }
      const pending = load(next.value);
      // The rejection is observed when the consumer reaches it; this stops a global warning.
      pending.catch(() => {});
      queue.push(pending);
    }
  };

  try {
    await fill();
    while (queue.length > 0) {
      const result = await queue.shift()!;
      await fill();
      yield result;
    }
  } finally {
    if (!done) await iterator.return?.();
  }
}
