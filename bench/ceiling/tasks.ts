// The ceiling's task bodies: the same three benchmark tasks as interop/tasks.ts, with nothing around them.

import type { JsonValue } from '../lib/celery-format';

export class UnknownTask extends Error {}

/** Run a task; sync tasks return the value, sleep returns a promise. */
export function runTask(name: string, args: JsonValue[]): JsonValue | Promise<JsonValue> {
  switch (name) {
    case 'tasks.add':
      return (args[0] as number) + (args[1] as number);
    case 'tasks.sleep': {
      const seconds = args[0] as number;
      return new Promise<JsonValue>((resolve) => setTimeout(() => resolve(seconds), seconds * 1000));
    }
    case 'tasks.burn': {
      const ms = args[0] as number;
      const until = performance.now() + ms;
      let x = 0;
      while (performance.now() < until) x = (x * 31 + 7) % 1000003;
      return x >= 0 ? ms : ms;
    }
    default:
      throw new UnknownTask(name);
  }
}
