// `celeriac purge [-Q q1,q2] [-X q3] [-f]`: remove every waiting message from the task queues, as `celery purge`.

import * as readline from 'node:readline/promises';
import { appFromFlags, loggerFromFlags, type AppFlags } from './common';

export interface PurgeFlags extends AppFlags {
  queues?: string;
  excludeQueues?: string;
  force?: boolean;
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

export async function runPurge(flags: PurgeFlags): Promise<number> {
  const logger = loggerFromFlags(flags);
  const app = appFromFlags(flags, logger);
  const exclude = new Set(list(flags.excludeQueues));
  const queues = (list(flags.queues).length > 0 ? list(flags.queues) : [app.conf.taskDefaultQueue]).filter((q) => !exclude.has(q));
  if (queues.length === 0) {
    process.stdout.write('No queues to purge.\n');
    return 0;
  }
  if (!flags.force) {
    if (!process.stdin.isTTY) {
      process.stderr.write(`error: purge deletes all messages in ${queues.join(', ')}; pass -f/--force to do it without asking\n`);
      return 1;
    }
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`You're about to delete all messages from the following queues: ${queues.join(', ')}. Are you sure? [yes/NO] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) return 0;
  }
  try {
    await app.connect();
    let total = 0;
    for (const q of queues) {
      try {
        total += await app.broker.purge(q);
      } catch (err) {
        // A queue that does not exist holds no messages (RabbitMQ answers NOT_FOUND).
        if (!/NOT_FOUND|404/.test((err as Error).message)) throw err;
      }
    }
    process.stdout.write(`Purged ${total} ${total === 1 ? 'message' : 'messages'} from ${queues.length} known task ${queues.length === 1 ? 'queue' : 'queues'}.\n`);
    return 0;
  } finally {
    await app.close();
  }
}
