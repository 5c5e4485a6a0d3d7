import { execFile } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A small real filesystem (tmpfs) that a scenario can fill up and free again. */
export interface SmallDisk {
  readonly dir: string;
  /** Write a filler file until the filesystem reports ENOSPC; returns the bytes written. */
  fill(): Promise<number>;
  /** Delete the filler file. */
  free(): Promise<void>;
  unmount(): Promise<void>;
}

/**
 * Mount a tmpfs of `sizeBytes` on `dir` (needs root or CAP_SYS_ADMIN): a real disk that runs
 * full, with real ENOSPC errors. Returns undefined with the reason when mounting is not
 * permitted, so that the caller can skip and say why.
 *
 * @example
 * ```ts
 * const disk = await mountSmallDisk(join(work, 'disk'), 16 * 1024 * 1024);
 * await disk.fill(); // ... the replicator's writes fail ...
 * await disk.free();
 * ```
 */
export async function mountSmallDisk(
  dir: string,
  sizeBytes: number,
): Promise<SmallDisk | { skipped: string }> {
  await mkdir(dir, { recursive: true });
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir]);
  } catch (error) {
    return {
      skipped: `mount -t tmpfs not permitted here: ${(error as Error).message.split('\n')[0]}`,
    };
  }
  const filler = join(dir, 'filler.bin');
  return {
    dir,
    async fill() {
      const handle = await open(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      let written = 0;
      try {
        for (;;) {
          const { bytesWritten } = await handle.write(chunk);
          written += bytesWritten;
          if (bytesWritten < chunk.length) break;
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      } finally {
        await handle.close().catch(() => {});
      }
      return written;
    },
    async free() {
      await rm(filler, { force: true });
    },
    async unmount() {
      await run('umount', ['-l', dir]).catch(() => {});
    },
  };
}
