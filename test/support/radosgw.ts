import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './postgres.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);

/** A throwaway single-node Ceph cluster serving S3 through radosgw, owned by one test file. */
export interface TestRadosgw {
  /** S3 endpoint, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  /** Stop every daemon and delete the cluster's files. */
  destroy(): Promise<void>;
}

/** True when Debian's radosgw and ceph daemons are installed (CI installs them). */
export function radosgwInstalled(): boolean {
  return ['/usr/bin/radosgw', '/usr/bin/ceph-mon', '/usr/bin/ceph-osd'].every(existsSync);
}

/**
 * Start ceph-mon, one memstore ceph-osd and radosgw on loopback ports, and create an S3 user.
 * About 11–13 s. Authentication between daemons is off (`auth_*_required = none`, which needs
 * `ms_mon_client_mode = crc secure`); S3 requests are still signed and checked by radosgw.
 *
 * @example
 * ```ts
 * const rgw = await startRadosgw();
 * const store = await openStore('s3://bucket/prefix', { s3Endpoint: rgw.endpoint });
 * await rgw.destroy();
 * ```
 */
export async function startRadosgw(): Promise<TestRadosgw> {
  const root = await mkdtemp(join(tmpdir(), 'cr-rgw-'));
  const children: ChildProcess[] = [];
  const destroy = async () => {
    // radosgw first, then the OSD, then the monitor, which the others talk to while stopping.
    for (const child of [...children].reverse()) await stopChild(child);
    await rm(root, { recursive: true, force: true });
  };

  try {
    const monPort = await freePort();
    const rgwPort = await freePort();
    const fsid = randomUUID();
    for (const dir of ['run', 'log', 'mon', 'osd/ceph-0', 'rgw']) {
      await mkdir(join(root, dir), { recursive: true });
    }
    const conf = join(root, 'ceph.conf');
    await writeFile(conf, cephConf({ root, fsid, monPort, rgwPort }));
    const ceph = (binary: string, args: string[]) =>
      run(binary, ['-c', conf, ...args], { cwd: root, timeout: 60_000 });

    // Monitor: a keyring and a monitor map, then the daemon in the foreground.
    await run('ceph-authtool', [
      '--create-keyring',
      join(root, 'keyring'),
      '--gen-key',
      '-n',
      'mon.',
      '--cap',
      'mon',
      'allow *',
    ]);
    const monmap = join(root, 'monmap');
    await run('monmaptool', [
      '--create',
      '--addv',
      'a',
      `[v2:127.0.0.1:${monPort}]`,
      '--fsid',
      fsid,
      monmap,
    ]);
    await ceph('ceph-mon', [
      '--mkfs',
      '-i',
      'a',
      '--monmap',
      monmap,
      '--keyring',
      join(root, 'keyring'),
    ]);
    children.push(daemon('ceph-mon', ['-c', conf, '-i', 'a', '-f'], root));

    // One OSD on memory, enough for pools of size 1.
    await ceph('ceph', ['osd', 'create']);
    await ceph('ceph-osd', ['-i', '0', '--mkfs']);
    children.push(daemon('ceph-osd', ['-c', conf, '-i', '0', '-f'], root));

    // The S3 gateway, ready when it answers an anonymous bucket listing.
    children.push(daemon('radosgw', ['-c', conf, '-n', 'client.rgw.test', '-f'], root));
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitFor(
      async () => {
        for (const child of children) {
          if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited early`);
        }
        return (await fetch(`${endpoint}/`)).status === 200;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: 'radosgw to answer' },
    );

    // Test-only credentials of a fresh S3 user.
    const accessKeyId = `TESTONLY${randomBytes(6).toString('hex').toUpperCase()}`;
    const secretAccessKey = randomBytes(20).toString('hex');
    await ceph('radosgw-admin', [
      'user',
      'create',
      '--uid',
      'test',
      '--display-name',
      'test only',
      '--access-key',
      accessKeyId,
      '--secret-key',
      secretAccessKey,
    ]);
    return { endpoint, accessKeyId, secretAccessKey, region: 'us-east-1', destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}

function cephConf(o: { root: string; fsid: string; monPort: number; rgwPort: number }): string {
  return `[global]
fsid = ${o.fsid}
mon_host = v2:127.0.0.1:${o.monPort}
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc secure
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
mon_warn_on_pool_no_redundancy = false
osd_objectstore = memstore
memstore_device_bytes = 1073741824
run_dir = ${o.root}/run
admin_socket = ${o.root}/run/$name.asok
log_file = ${o.root}/log/$name.log
pid_file = ${o.root}/run/$name.pid
mon_data = ${o.root}/mon/$cluster-$id
osd_data = ${o.root}/osd/$cluster-$id
keyring = ${o.root}/keyring
[client.rgw.test]
rgw_frontends = beast endpoint=127.0.0.1:${o.rgwPort}
rgw_data = ${o.root}/rgw
`;
}

function daemon(binary: string, args: string[], cwd: string): ChildProcess {
  const child = spawn(binary, args, { cwd, stdio: 'ignore' });
  child.on('error', () => {});
  return child;
}

/** SIGTERM, then SIGKILL if the daemon has not exited within a few seconds. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
