// The backend when none is configured (Celery's DisabledBackend): results are not stored and cannot be awaited.

import type { ResultMeta } from '../../protocol';
import { NoResultBackend } from '../errors';
import type { ResultBackend, StoreContext, Unwatch } from './backend';

export class DisabledBackend implements ResultBackend {
  readonly kind = 'disabled' as const;
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async store(_meta: ResultMeta, _context: StoreContext): Promise<void> {}
  private fail(): never {
    throw new NoResultBackend('No result backend is configured: pass --result-backend (or set CELERY_RESULT_BACKEND / resultBackend), e.g. redis://127.0.0.1:6379/0 or rpc://');
  }
  async get(_taskId: string): Promise<ResultMeta | null> {
    return this.fail();
  }
  async watch(_taskId: string, _onMeta: (meta: ResultMeta) => void): Promise<Unwatch> {
    return this.fail();
  }
  async forget(_taskId: string): Promise<void> {}
}
