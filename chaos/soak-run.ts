// `npm run soak`: the soak on the local Redis with its RSS curve printed and written to chaos/results/soak-latest.json;
// exits 1 when RSS grows beyond the bound after warm-up.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { writeResults } from './report';
import { runSoak, soakTable } from './soak';

async function main(): Promise<number> {
  const argv = await yargs(hideBin(process.argv))
    .option('tasks', { type: 'number', default: 1000000 })
    .option('concurrency', { type: 'number', default: 16 })
    .option('sample', { type: 'number', default: 5, describe: 'seconds between samples' })
    .option('max-growth-mb', { type: 'number', default: 30 })
    .option('max-growth-percent', { type: 'number', default: 20 })
    .option('redis', { type: 'string', default: 'redis://127.0.0.1:6379/0' })
    .strict()
    .parse();
  const report = await runSoak({ tasks: argv.tasks, concurrency: argv.concurrency, sampleSeconds: argv.sample, maxGrowthMb: argv['max-growth-mb'], maxGrowthPercent: argv['max-growth-percent'], redisUrl: argv.redis });
  const date = new Date().toISOString();
  console.log(`\nsoak, ${date}: ${report.tasks} no-op tasks on Redis in ${report.wallSeconds} s (${report.tasksPerSecond}/s)\n`);
  console.log(soakTable(report));
  console.log(`\nRSS: start ${report.rssStartMb} MB, at 25 % ${report.rssAt25Mb} MB, end ${report.rssEndMb} MB, peak ${report.rssPeakMb} MB; growth after warm-up ${report.growthMb} MB (allowed ${report.allowedGrowthMb} MB)`);
  for (const f of report.failures) console.log(`FAIL: ${f}`);
  console.log(`written ${writeResults('soak-latest', { date, command: `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim(), report })}`);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  },
);
