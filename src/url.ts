// Broker and backend URLs: parsing the few parts we need and masking passwords wherever a URL is shown.

/** Replace the password of every URL in a text with `**`: `amqp://guest:**@host//`. */
export function maskSecrets(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)([^@\s]+)@/gi, '$1**@');
}

/** The URL with its password masked. */
export function maskUrl(url: string): string {
  return maskSecrets(url);
}

/** The scheme of a URL, lower-cased without `:`, e.g. `amqp`, `redis`, `rpc`, `memory`. */
export function urlScheme(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (!m) throw new Error(`not a URL: ${JSON.stringify(maskUrl(url))} (expected e.g. amqp://guest:guest@127.0.0.1:5672// or redis://127.0.0.1:6379/0)`);
  return m[1].toLowerCase();
}

/** The first of several URLs given as `a;b` (Celery's failover list). */
export function splitUrls(urls: string): string[] {
  return urls.split(';').map((u) => u.trim()).filter(Boolean);
}
