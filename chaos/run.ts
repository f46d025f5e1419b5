// `npm run chaos`: the chaos suite on RabbitMQ and on Redis as brokers (Redis result backend, acksLate), with a
// figures table and chaos/results/chaos-latest.json. Exits 1 on any lost task, wrong result or leftover message.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { chaosTable, writeResults } from './report';
import { runChaos, type ChaosBroker, type ChaosReport } from './scenario';

async function main(): Promise<number> {
  const argv = await yargs(hideBin(process.argv))
    .option('tasks', { type: 'number', default: 10000, describe: 'tasks per broker' })
    .option('brokers', { type: 'string', default: 'amqp,redis', describe: 'comma-separated: amqp, redis' })
    .option('kills', { type: 'number', default: 3, describe: 'worker SIGKILLs per broker' })
    .option('restarts', { type: 'number', default: 1, describe: 'broker restarts per broker' })
    .option('drops', { type: 'number', default: 1, describe: 'connection drops per broker' })
    .option('concurrency', { type: 'number', default: 8 })
    .option('hold-ms', { type: 'number', default: 2, describe: 'how long each task stays in flight' })
    .option('pace', { type: 'number', default: 20, describe: 'the producers spread the tasks over about this many seconds (0: flat out)' })
    .option('seed', { type: 'number', describe: 'repeat a run (the seed is printed)' })
    .strict()
    .parse();
  const brokers = argv.brokers.split(',').map((b) => b.trim()) as ChaosBroker[];
  for (const b of brokers) if (b !== 'amqp' && b !== 'redis') throw new Error(`unknown broker ${b} (amqp, redis)`);
  const reports: ChaosReport[] = [];
  for (const broker of brokers) {
    // One broker at a time: the machine is small and each run measures one thing.
    reports.push(await runChaos({ broker, tasks: argv.tasks, kills: argv.kills, brokerRestarts: argv.restarts, connectionDrops: argv.drops, concurrency: argv.concurrency, holdMs: argv['hold-ms'], paceSeconds: argv.pace, seed: argv.seed }));
  }
  const date = new Date().toISOString();
  console.log(`\nchaos, ${date}, ${argv.tasks} tasks per broker, acksLate, Redis result backend\n`);
  console.log(chaosTable(reports));
  for (const r of reports) {
    console.log(`\n${r.broker}: broker restart = ${r.brokerRestartMethod}; connection drop = ${r.connectionDropMethod}; producer resends ${r.producerResends}; seed ${r.seed}`);
    for (const f of r.failures) console.log(`  FAIL: ${f}`);
  }
  const file = writeResults('chaos-latest', { date, command: `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim(), reports });
  console.log(`\nwritten ${file}`);
  return reports.every((r) => r.ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  },
);
