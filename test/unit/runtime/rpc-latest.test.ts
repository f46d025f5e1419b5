// The RPC backend keeps the latest state of a bounded number of tasks, so a long-lived client does not grow forever.

import { MemoryBroker, RpcBackend } from '../../../src';
import { RPC_LATEST_MAX } from '../../../src/backends/rpc';
import type { ResultMeta } from '../../../protocol';

describe('RpcBackend latest states', () => {
  test(`keeps at most ${RPC_LATEST_MAX} tasks, dropping the oldest, but never one that is watched`, async () => {
    const broker = new MemoryBroker(`memory://rpc-latest-${process.pid}`);
    await broker.connect();
    const backend = new RpcBackend(broker, 'rpc-latest-replies');
    await backend.ensureConsuming();
    const seen: ResultMeta[] = [];
    const unwatch = await backend.watch('task-0', (m) => seen.push(m));
    const meta = (id: string): ResultMeta => ({ task_id: id, status: 'SUCCESS', result: 1, traceback: null, children: [] }) as unknown as ResultMeta;
    const total = RPC_LATEST_MAX + 500;
    for (let i = 0; i < total; i++) await backend.store(meta(`task-${i}`), { replyTo: 'rpc-latest-replies', correlationId: `task-${i}` });
    await new Promise((r) => setImmediate(r));
    expect(seen.map((m) => m.status)).toEqual(['SUCCESS']);
    expect((await backend.get('task-0'))?.status).toBe('SUCCESS'); // watched: kept
    expect(await backend.get('task-1')).toBeNull(); // the oldest unwatched: dropped
    expect((await backend.get(`task-${total - 1}`))?.status).toBe('SUCCESS');
    unwatch();
    await backend.close();
    await broker.close();
  });
});
