// The chaos scenario at CI size on both brokers: worker SIGKILLs, a broker restart and a connection drop under
// Python producers lose no task, give every id its right SUCCESS result and leave no message behind (acksLate).

import { runChaos, type ChaosBroker, type ChaosReport } from '../../chaos/scenario';
import { chaosTable } from '../../chaos/report';
import { ensureRabbitRunning } from '../../chaos/services';
import { AMQP_URL, describeWith, PYTHON, REDIS_URL } from '../helpers/env';

const TASKS = Number(process.env.CELERIAC_CHAOS_TASKS || 400);

describeWith(['amqp', 'redis', 'python'], 'chaos: kills, a broker restart and a connection drop lose nothing (acksLate)', () => {
  const reports: ChaosReport[] = [];

  afterAll(async () => {
    // Whatever happened, RabbitMQ is serving again for the suites that follow.
    await ensureRabbitRunning();
    if (reports.length) process.stdout.write(`${chaosTable(reports)}\n`);
  });

  test.each<[ChaosBroker]>([['amqp'], ['redis']])('%s broker', async (broker) => {
    const report = await runChaos({ broker, tasks: TASKS, kills: 3, brokerRestarts: 1, connectionDrops: 1, paceSeconds: 10, amqpUrl: AMQP_URL, backendUrl: REDIS_URL, python: PYTHON, log: () => undefined });
    reports.push(report);
    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({ tasks: TASKS, kills: 3, brokerRestarts: 1, connectionDrops: 1, lost: 0, wrong: 0, leftInQueue: 0, leftUnacked: 0, unexpectedWorkerExits: 0 });
    expect(report.duplicates).toBeLessThanOrEqual(report.duplicateBound);
  }, 150000);
});
