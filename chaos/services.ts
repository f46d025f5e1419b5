// What the chaos suite does to the services: restart RabbitMQ's app, restart a throwaway broker Redis, and drop the
// worker's connections on either broker (and on the result backend's Redis).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args], { encoding: 'utf8', timeout: 120000 });
  return stdout;
}

/** Start RabbitMQ's app if it is stopped (idempotent) and wait until it serves. */
export async function ensureRabbitRunning(): Promise<void> {
  await rabbitmqctl('start_app');
  await rabbitmqctl('await_startup');
}

/** `stop_app`, down for `downMs`, `start_app`: durable queues and persistent messages survive; every connection drops. */
export async function restartRabbit(downMs: number): Promise<void> {
  try {
    await rabbitmqctl('stop_app');
    await new Promise((r) => setTimeout(r, downMs)); // the outage itself, not a synchronisation
  } finally {
    await ensureRabbitRunning();
  }
}

/** Close the RabbitMQ connections of one process (the AMQP transport names them `celeriac <pid>@host`). */
export async function closeAmqpConnectionsOf(pid: number, reason: string): Promise<number> {
  const out = await rabbitmqctl('list_connections', 'pid', 'client_properties');
  const conns = out.split('\n').filter((l) => l.includes(`"celeriac ${pid}@`)).map((l) => l.split('\t')[0]);
  for (const c of conns) await rabbitmqctl('close_connection', c, reason).catch(() => undefined);
  return conns.length;
}

/** Ready and unacknowledged messages of a queue, or undefined when it does not exist. */
export async function amqpQueueDepth(queue: string): Promise<{ ready: number; unacked: number } | undefined> {
  const out = await rabbitmqctl('list_queues', 'name', 'messages_ready', 'messages_unacknowledged');
  for (const line of out.split('\n')) {
    const [name, ready, unacked] = line.split('\t');
    if (name === queue) return { ready: Number(ready), unacked: Number(unacked) };
  }
  return undefined;
}

/** Kill the Redis connections of one process (the transport and backend name them `celeriac:<what>:<pid>`). */
export async function killRedisConnectionsOf(redis: Redis, pid: number): Promise<number> {
  const list = (await redis.client('LIST')) as string;
  const ids = list.split('\n').filter((l) => new RegExp(`name=celeriac:[^ ]*:${pid} `).test(l)).map((l) => /id=(\d+)/.exec(l)?.[1]);
  let killed = 0;
  for (const id of ids) if (id) killed += Number(await redis.client('KILL', 'ID', id).catch(() => 0));
  return killed;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A private `redis-server` used as the broker, so it can be restarted without touching the shared Redis (which holds
 * the results). Append-only with fsync on every write: what a client was told is stored survives the restart, so the
 * accounting stays honest (a broker that forgets its queue on restart loses messages by design, not by our fault).
 */
export class ThrowawayRedis {
  private proc: ChildProcess | undefined;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'celeriac-chaos-redis-'));

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  static async start(): Promise<ThrowawayRedis> {
    const r = new ThrowawayRedis(await freePort());
    await r.launch();
    return r;
  }

  private async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir, '--loglevel', 'warning'];
    this.proc = spawn('redis-server', args, { stdio: 'ignore' });
    const deadline = Date.now() + 20000;
    for (;;) {
      const probe = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') {
          // Loading the append-only file answers PING with an error until it is done; PONG means it serves.
          probe.disconnect();
          return;
        }
      } catch {
        // not up yet
      }
      probe.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 50)); // polling a port that has no event to await
    }
  }

  /** SHUTDOWN NOSAVE (every write is already fsynced to the append-only file), down for `downMs`, launch again. */
  async restart(downMs: number): Promise<void> {
    await this.shutdown();
    await new Promise((r) => setTimeout(r, downMs)); // the outage itself
    await this.launch();
  }

  private async shutdown(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    const admin = new Redis({ port: this.port, host: '127.0.0.1', retryStrategy: () => null, maxRetriesPerRequest: 0 });
    admin.on('error', () => undefined);
    await admin.call('SHUTDOWN', 'NOSAVE').catch(() => undefined); // the server closes the connection as it goes
    admin.disconnect();
    await exited;
  }

  async stop(): Promise<void> {
    await this.shutdown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
