#!/usr/bin/env node
// The `celeriac` command line (yargs): parses Celery's flags and calls the runtime; no logic of its own.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runWorker } from '../src/cli/worker';
import { runCall, runResult } from '../src/cli/call';
import { runDemo } from '../src/cli/demo';
import { reportFatal } from '../src/cli/common';
import { COMMAND_META, runRemote, runStatus } from '../src/cli/inspect';
import { runEvents } from '../src/cli/events';
import { runPurge } from '../src/cli/purge';

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

const workerOpsOptions = {
  'task-events': { alias: 'E', type: 'boolean', describe: 'send task events (for Flower and `celeriac events`)' },
  'without-heartbeat': { type: 'boolean', describe: 'send no worker-heartbeat events' },
  'without-gossip': { type: 'boolean', describe: 'accepted for Celery compatibility (celeriac does not gossip)' },
  'without-mingle': { type: 'boolean', describe: 'accepted for Celery compatibility (celeriac does not mingle at start)' },
  'heartbeat-interval': { type: 'number', describe: 'seconds between worker heartbeats (default 2)' },
  statedb: { alias: 'S', type: 'string', describe: 'keep revoked task ids across restarts in this JSON file (%n, %h expand)' },
  'metrics-port': { type: 'number', describe: 'serve Prometheus /metrics and /healthz on this port (0 = any)' },
  'metrics-host': { type: 'string', describe: 'address for --metrics-port (default 0.0.0.0)' },
} as const;

const remoteOptions = {
  timeout: { alias: 't', type: 'number', default: 1, describe: 'seconds to wait for replies' },
  destination: { alias: 'd', type: 'string', describe: 'comma-separated node names (default: all workers)' },
  json: { alias: 'j', type: 'boolean', default: false, describe: 'print the replies as JSON' },
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
        ...workerOpsOptions,
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
        progress: { type: 'boolean', describe: 'with --wait: a progress bar while the task reports PROGRESS (default: on a terminal)' },
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
  .command(
    'inspect <command> [args..]',
    `ask workers (celery inspect): ${Object.keys(COMMAND_META).filter((c) => COMMAND_META[c].type === 'inspect').join(', ')}`,
    (y) => y.positional('command', { type: 'string', demandOption: true }).positional('args', { type: 'string', array: true }).options({ ...appOptions, ...remoteOptions }),
    (argv) => finish(runRemote('inspect', argv.command as string, (argv.args as string[] | undefined)?.map(String) ?? [], argv)),
  )
  .command(
    'control <command> [args..]',
    `tell workers (celery control): ${Object.keys(COMMAND_META).filter((c) => COMMAND_META[c].type === 'control').join(', ')}`,
    (y) =>
      y.positional('command', { type: 'string', demandOption: true }).positional('args', { type: 'string', array: true }).options({
        ...appOptions,
        ...remoteOptions,
        terminate: { type: 'boolean', describe: 'revoke: also end the running task' },
        signal: { type: 'string', describe: 'revoke --terminate: signal name (default SIGTERM)' },
      }),
    (argv) => finish(runRemote('control', argv.command as string, (argv.args as string[] | undefined)?.map(String) ?? [], argv)),
  )
  .command('status', 'list the workers online (ping)', (y) => y.options({ ...appOptions, ...remoteOptions }), (argv) => finish(runStatus(argv)))
  .command(
    'purge',
    'delete all waiting messages from task queues',
    (y) =>
      y.options({
        ...appOptions,
        logfile: { type: 'string', describe: 'append log lines to this file instead of stderr' },
        queues: { alias: 'Q', type: 'string', describe: 'comma-separated queues (default: celery)' },
        'exclude-queues': { alias: 'X', type: 'string', describe: 'comma-separated queues to leave alone' },
        force: { alias: 'f', type: 'boolean', default: false, describe: 'do not ask for confirmation' },
      }),
    (argv) => finish(runPurge(argv)),
  )
  .command(
    'events',
    'live view of workers and tasks from events (--dump: print each event)',
    (y) =>
      y.options({
        ...appOptions,
        dump: { type: 'boolean', default: false, describe: 'print every event (as celery events --dump)' },
        json: { type: 'boolean', default: false, describe: 'print every event as one JSON object per line' },
        freq: { alias: 'F', type: 'number', default: 1, describe: 'seconds between redraws' },
        duration: { type: 'number', describe: 'stop after this many seconds' },
      }),
    (argv) => finish(runEvents(argv)),
  )
  .demandCommand(1, 'give a command: worker, call, result, inspect, control, status, purge, events or demo')
  .strict()
  .help()
  .parse();
