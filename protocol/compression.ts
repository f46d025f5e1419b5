// Body compression named by the `compression` header (kombu's compressors). Pure; uses only node:zlib.

import * as zlib from 'node:zlib';
import { DecodeError } from './errors';

/** Decompress a body; `application/x-gzip` is a zlib stream (RFC 1950) in kombu, not gzip. */
export function decompress(contentType: string, body: Buffer): Buffer {
  try {
    switch (contentType) {
      case 'application/x-gzip':
      case 'zlib':
        return zlib.inflateSync(body);
      case 'application/x-brotli':
      case 'brotli':
        return zlib.brotliDecompressSync(body);
    }
  } catch (err) {
    throw new DecodeError(`cannot decompress ${contentType} body: ${(err as Error).message}`);
  }
  throw new DecodeError(`unsupported compression ${JSON.stringify(contentType)} (supported: application/x-gzip, application/x-brotli)`);
}

/** Compress a body; returns the header value to send with it. */
export function compress(method: 'zlib' | 'brotli', body: Buffer): { body: Buffer; header: string } {
  return method === 'zlib'
    ? { body: zlib.deflateSync(body), header: 'application/x-gzip' }
    : { body: zlib.brotliCompressSync(body), header: 'application/x-brotli' };
}
