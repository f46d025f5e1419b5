// Signatures as Celery serialises them (canvas.py `Signature` dict): the unit of every canvas on the wire.

/** A signature dict as Celery 5 writes it. Unknown keys in `options` are kept as they are. */
export interface SignatureDict {
  task: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  options?: SignatureOptions;
  subtask_type?: 'chain' | 'group' | 'chord' | null | string;
  immutable?: boolean;
  chord_size?: number | null;
  [extra: string]: unknown;
}

/** The options Celery keeps in a signature (a subset of apply_async's options), snake_case as on the wire. */
export interface SignatureOptions {
  task_id?: string;
  reply_to?: string;
  group_id?: string;
  group_index?: number;
  chord?: SignatureDict;
  link?: SignatureDict[] | SignatureDict;
  link_error?: SignatureDict[] | SignatureDict;
  root_id?: string;
  parent_id?: string;
  queue?: string;
  priority?: number;
  countdown?: number;
  eta?: string;
  expires?: string | number;
  [extra: string]: unknown;
}
