#!/usr/bin/env node
// The `celeriac` command line (yargs): parses Celery's flags and calls the runtime; no logic of its own.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runWorker } from '../src/cli/worker';
import { runCall, runResult } from '../src/cli/call';
import { runDemo } from '../src/cli/demo';
import { reportFatal } from '../src/cli/common';

const finish = (run: Promise<number>): void => {
  run.then(
    (code) => process.exit(code),
    (err: unknown) => process.exit(reportFatal(err)),
  );
};

const appOptions = {
  app: { alias: 'A', type: 'string', describe: 'tasks module (.ts or .js) defining the Celery app' },
  config: { type: 'string', describe: 'settings file: JSON, or a .js/.ts module exporting Celery settings' },
  broker: { alias: 'b', type: 'string', describe: 'broker URL (env CELERY_BROKER_URL)' },
  'result-backend': { type: 'string', describe: 'result backend URL (env CELERY_RESULT_BACKEND)' },
  loglevel: { alias: 'l', type: 'string', describe: 'debug, info, warning, error, critical' },
  logfile: { alias: 'f', type: 'string', describe: 'append log lines to this file instead of stderr' },
  'log-format': { type: 'string', choices: ['text', 'json'], default: 'text', describe: 'json: one object per line' },
} as const;

void yargs(hideBin(process.argv))
  .scriptName('celeriac')
  .usage('$0 <command> [options]')
  .command(
    'worker',
    'start a worker serving the tasks of -A',
    (y) =>
      y.options({
        ...appOptions,
        queues: { alias: 'Q', type: 'string', describe: 'comma-separated queues to consume (default: celery)' },
        concurrency: { alias: 'c', type: 'number', describe: 'tasks run at once (default: number of CPUs)' },
        hostname: { alias: 'n', type: 'string', describe: 'node name, e.g. worker1@%h' },
        'prefetch-multiplier': { type: 'number', describe: 'messages prefetched per concurrency slot (default 4)' },
        'time-limit': { type: 'number', describe: 'hard time limit in seconds' },
        'soft-time-limit': { type: 'number', describe: 'soft time limit in seconds' },
        'max-message-size': { type: 'number', describe: 'reject messages larger than this many bytes (default 64 MiB; 0 = no limit)' },
        pool: { alias: 'P', type: 'string', describe: 'async (default: on the event loop), threads or processes (also prefork, solo)' },
        autoscale: { type: 'string', describe: 'max,min: grow the threads/processes pool under a backlog, shrink it when idle' },
        'max-tasks-per-child': { type: 'number', describe: 'replace a pool thread/process after this many tasks' },
        'max-memory-per-child': { type: 'number', describe: 'KiB: replace a pool thread/process after a task that left it above this' },
      }).demandOption('app', 'worker needs -A <tasks module>'),
    (argv) => finish(runWorker(argv)),
  )
  .command(
    'call <task>',
    'send a task by name; prints its id (and with --wait its result)',
    (y) =>
      y.positional('task', { type: 'string', demandOption: true }).options({
        ...appOptions,
        args: { alias: 'a', type: 'string', describe: 'positional arguments as a JSON array' },
        kwargs: { alias: 'k', type: 'string', describe: 'keyword arguments as a JSON object' },
        queue: { alias: 'Q', type: 'string' },
        countdown: { type: 'number', describe: 'seconds before the task may run' },
        eta: { type: 'string', describe: 'ISO 8601 time before which the task may not run' },
        expires: { type: 'number', describe: 'seconds after which the task is not run' },
        priority: { type: 'number' },
        wait: { type: 'boolean', default: false, describe: 'wait for the result and print it (JSON) on the last line' },
        timeout: { type: 'number', describe: 'seconds to wait with --wait' },
      }),
    (argv) => finish(runCall({ ...argv, task: argv.task as string })),
  )
  .command(
    'result <id>',
    'print the state and result of a task',
    (y) => y.positional('id', { type: 'string', demandOption: true }).options(appOptions),
    (argv) => finish(runResult({ ...argv, id: argv.id as string })),
  )
  .command(
    'demo',
    'run a worker and a producer in-process on memory:// (no services needed)',
    (y) =>
      y.options({
        tasks: { alias: 'N', type: 'number', default: 5000, describe: 'number of tasks.add calls' },
        concurrency: { alias: 'c', type: 'number', default: 50 },
        loglevel: { alias: 'l', type: 'string', default: 'warning' },
      }),
    (argv) => finish(runDemo(argv)),
  )
  .demandCommand(1, 'give a command: worker, call, result or demo')
  .strict()
  .help()
  .parse();
