// Throwaway servers for connection tests: a self-signed CA and server certificate (openssl), a TLS-terminating
// proxy in front of a plain port, and redis-server processes (TLS, Sentinel) on free loopback ports.

import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { Proc } from './processes';

export interface Certificates {
  dir: string;
  /** The CA that signed the server certificate. */
  ca: string;
  cert: string;
  key: string;
  /** Another CA, which did not sign it (to prove verification is on). */
  wrongCa: string;
}

/** A CA, a server certificate for 127.0.0.1 and localhost signed by it, and an unrelated CA, in a new temp dir. */
export function makeCertificates(): Certificates {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'celeriac-tls-'));
  const f = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=celeriac test CA');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('wrong-ca.key'), '-out', f('wrong-ca.pem'), '-days', '2', '-subj', '/CN=celeriac wrong CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf'));
  return { dir, ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key'), wrongCa: f('wrong-ca.pem') };
}

/** A free TCP port on 127.0.0.1 (closed again, so a server started right after can take it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Proxy {
  port: number;
  close(): Promise<void>;
}

/** Terminate TLS on a free port and pipe each connection to a plain 127.0.0.1 port (RabbitMQ, which we must not reconfigure). */
export function startTlsProxy(certs: Certificates, targetPort: number): Promise<Proxy> {
  return startProxy(targetPort, certs);
}

/** A plain TCP proxy on a free port to a 127.0.0.1 port: a second address for the same server (failover lists). */
export function startTcpProxy(targetPort: number): Promise<Proxy> {
  return startProxy(targetPort);
}

function startProxy(targetPort: number, certs?: Certificates): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const onClient = (client: net.Socket): void => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    track(client);
    track(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  };
  const server = certs ? tls.createServer({ cert: fs.readFileSync(certs.cert), key: fs.readFileSync(certs.key) }, onClient) : net.createServer(onClient);
  // A handshake refused by the client (wrong CA) is the point of some tests, not a failure of the proxy.
  server.on('tlsClientError', () => undefined);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Start redis-server with these arguments (port, TLS or --sentinel); resolves once it accepts connections. */
export async function startRedisServer(args: string[], label = 'redis-server'): Promise<Proc> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new Proc(child, label);
  await proc.waitFor(/Ready to accept connections|Sentinel ID is/, 15000);
  return proc;
}

/** redis-server serving TLS only, on a free port, with the given certificates (clients need not present one). */
export async function startTlsRedis(certs: Certificates): Promise<{ port: number; proc: Proc }> {
  const port = await freePort();
  const proc = await startRedisServer(['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no'], 'redis-tls');
  return { port, proc };
}

/** A Sentinel (redis-server --sentinel) on a free port monitoring 127.0.0.1:<masterPort> as `name`, with its config in `dir` (plus `extraConfig` lines). */
export async function startSentinel(dir: string, masterPort: number, name = 'mymaster', extraConfig: string[] = []): Promise<{ port: number; proc: Proc }> {
  const port = await freePort();
  const conf = path.join(dir, `sentinel-${port}.conf`);
  // A long down-after: this sentinel only answers "where is the master"; it must never try a failover of the shared Redis.
  fs.writeFileSync(conf, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${masterPort} 1\nsentinel down-after-milliseconds ${name} 600000\n${extraConfig.map((l) => `${l}\n`).join('')}`);
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new Proc(child, 'redis-sentinel');
  await proc.waitFor(/\+monitor master/, 15000);
  return { port, proc };
}
