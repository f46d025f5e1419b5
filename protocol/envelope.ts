// The kombu Redis transport envelope: a JSON object holding base64 body, headers and properties.
// Pure; src/brokers/redis.ts moves these strings in and out of Redis lists.

import { ownString, parseJson, stringifyJson } from './json';
import { DecodeError } from './errors';
import type { WireMessage, WireProperties } from './message';

export interface DeliveryInfo {
  exchange: string;
  routing_key: string;
}

/** A message read from a Redis list, with the kombu bookkeeping it carries. */
export interface RedisDelivery {
  message: WireMessage;
  deliveryTag: string;
  deliveryInfo: DeliveryInfo;
  redelivered: boolean;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decode one list element. Throws DecodeError with the reason when it is not a usable envelope. */
export function decodeEnvelope(raw: string): RedisDelivery {
  let env: unknown;
  try {
    env = parseJson(raw);
  } catch (err) {
    throw new DecodeError(`Redis message is not JSON: ${(err as Error).message}`);
  }
  return decodeEnvelopeValue(env);
}

/** Decode an envelope already parsed from JSON (e.g. the first item of kombu's `unacked` entry). */
export function decodeEnvelopeValue(env: unknown): RedisDelivery {
  if (env === null || typeof env !== 'object' || Array.isArray(env)) throw new DecodeError('Redis message is not a JSON object');
  const e = env as Record<string, unknown>;
  const props = e.properties;
  if (props === null || typeof props !== 'object' || Array.isArray(props)) throw new DecodeError('Redis message has no "properties" object');
  const p = props as Record<string, unknown>;
  if (typeof p.delivery_tag !== 'string' || p.delivery_tag === '') throw new DecodeError('Redis message has no properties.delivery_tag');
  const headers = e.headers ?? {};
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) throw new DecodeError('Redis message "headers" is not an object');
  if (typeof e.body !== 'string') throw new DecodeError('Redis message "body" is not a string');
  let body: Buffer;
  if (p.body_encoding === 'base64') {
    if (e.body.length % 4 !== 0 || !BASE64.test(e.body)) throw new DecodeError('Redis message body is not valid base64');
    body = Buffer.from(e.body, 'base64');
  } else if (p.body_encoding === undefined || p.body_encoding === null) {
    body = Buffer.from(e.body, 'utf8');
  } else {
    throw new DecodeError(`unsupported body_encoding ${JSON.stringify(p.body_encoding)}`);
  }
  const di = (p.delivery_info ?? {}) as Record<string, unknown>;
  const deliveryInfo: DeliveryInfo = {
    exchange: typeof di.exchange === 'string' ? ownString(di.exchange) : '',
    routing_key: typeof di.routing_key === 'string' ? ownString(di.routing_key) : '',
  };
  const properties: WireProperties = {};
  if (typeof p.correlation_id === 'string') properties.correlationId = p.correlation_id;
  if (typeof p.reply_to === 'string') properties.replyTo = p.reply_to;
  if (typeof p.delivery_mode === 'number') properties.deliveryMode = p.delivery_mode;
  if (typeof p.priority === 'number') properties.priority = p.priority;
  if (typeof p.expiration === 'string') properties.expiration = p.expiration;
  return {
    message: {
      body,
      contentType: typeof e['content-type'] === 'string' ? e['content-type'] : undefined,
      contentEncoding: typeof e['content-encoding'] === 'string' ? e['content-encoding'] : undefined,
      headers: headers as Record<string, unknown>,
      properties,
    },
    deliveryTag: ownString(p.delivery_tag),
    deliveryInfo,
    redelivered: di.redelivered === true || (headers as Record<string, unknown>).redelivered === true,
  };
}

/** Encode a message as kombu's Redis transport does (same keys, same order). */
export function encodeEnvelope(msg: WireMessage, deliveryInfo: DeliveryInfo, deliveryTag: string): string {
  const p = msg.properties;
  const properties: Record<string, unknown> = {};
  if (p.correlationId !== undefined) properties.correlation_id = p.correlationId;
  if (p.replyTo !== undefined) properties.reply_to = p.replyTo;
  properties.delivery_mode = p.deliveryMode ?? 2;
  if (p.expiration !== undefined) properties.expiration = p.expiration; // kombu puts it here, before delivery_info
  properties.delivery_info = deliveryInfo;
  properties.priority = p.priority ?? 0;
  properties.body_encoding = 'base64';
  properties.delivery_tag = deliveryTag;
  return stringifyJson({
    body: msg.body.toString('base64'),
    'content-encoding': msg.contentEncoding ?? 'utf-8',
    'content-type': msg.contentType ?? 'application/json',
    headers: msg.headers,
    properties,
  });
}

/** Mark a restored envelope redelivered, as kombu's restore does, and encode it again (big integers stay exact). */
export function markRedelivered(envelope: Record<string, unknown>): string {
  const headers = (envelope.headers ?? {}) as Record<string, unknown>;
  headers.redelivered = true;
  envelope.headers = headers;
  const props = (envelope.properties ?? {}) as Record<string, unknown>;
  const di = (props.delivery_info ?? {}) as Record<string, unknown>;
  di.redelivered = true;
  props.delivery_info = di;
  envelope.properties = props;
  return stringifyJson(envelope);
}
