// A short soak (CI size): a worker runs 100 000 no-op tasks from a fed Redis queue, and its RSS after warm-up stays
// within a loose bound. A leak check, not a speed check: `npm run soak` is the long run.

import { runSoak, soakTable } from '../../chaos/soak';
import { describeWith, REDIS_URL } from '../helpers/env';

describeWith(['redis'], 'soak: worker memory stays flat under a stream of no-op tasks', () => {
  test('RSS growth from the 25 % mark to the end is within the bound', async () => {
    const report = await runSoak({ tasks: 100000, redisUrl: REDIS_URL, sampleSeconds: 0.5, maxGrowthMb: 60, maxGrowthPercent: 50, log: () => undefined });
    process.stdout.write(`${soakTable(report)}\nRSS ${report.rssStartMb} → ${report.rssAt25Mb} (25 %) → ${report.rssEndMb} MB\n`);
    expect(report.samples.length).toBeGreaterThan(1);
    expect(report.failures).toEqual([]);
  }, 120000);
});
