// celeriac's public API: the Celery app, tasks, results, canvas, worker, errors, and the wire protocol helpers.

export { Celery, createBroker, type CeleryOptions } from './app';
export { Task, type TaskOptions, type TaskContext, type TaskRequest, type TaskHandler, type ApplyOptions, type RetryOptions, type SignatureLike, type ArgsTail } from './task';
export type { ParamSpec } from './params';
export { AsyncResult, type GetOptions } from './result';
export {
  Signature, Chain, Group, Chord, Chunks, XMap, XStarmap, GroupResult, CanvasResult,
  chain, group, chord, chunks, xmap, xmap as map, starmap, signatureFromDict,
  type AnySignature, type GroupGetOptions, type TaskSignatureLike,
} from './canvas';
export { WorkerCanvas } from './worker/canvas-handler';
export { installBuiltins } from './builtins';
export { Worker, expandHostname, type WorkerOptions } from './worker/worker';
export { createExecutor, ExecutorRouter, PoolExecutor, parseAutoscale, parsePoolName, type ExecutorSettings, type PoolName, type PoolStats } from './worker/pools';
export { resolveSettings, snakeName, camelName, ConfigurationError, type CelerySettings } from './config';
export { createLogger, parseLogLevel, silentLogger, type Logger, type LogLevel } from './log';
export { maskUrl } from './url';
export { WorkerOps, type WorkerOpsOptions } from './ops';
export { ControlClient, type BroadcastOptions } from './control/client';
export { EventReceiver, type ReceivedEvent } from './events/receiver';
export { EventDispatcher, type CeleryEvent } from './events/dispatcher';
export { WorkerMetrics, MetricsServer } from './metrics';
export { LimitedSet } from './control/limited-set';
export * from './errors';
export type { Broker, QueueSpec, Delivery, Consumer, Route } from './brokers/broker';
export { taskQueue } from './brokers/broker';
export { AmqpBroker } from './brokers/amqp';
export { RedisBroker } from './brokers/redis';
export { MemoryBroker } from './brokers/memory';
export type { ResultBackend } from './backends/backend';
export { RedisBackend } from './backends/redis';
export { RpcBackend } from './backends/rpc';
export { MemoryBackend } from './backends/memory';
export { PyDate, PyDateTime, PyDecimal, PyTime, PyUUID, type ResultMeta, type TaskState, type SignatureDict } from '../protocol';
