export { startLocalKms, type Clock, type LocalKms, type LocalKmsOptions } from './startLocalKms.js';
export type { FaultSpec, FaultsSetting } from './internal/faults.js';
export type { Counts, LocalKmsStats } from './internal/Stats.js';
export type { AuditEvent } from './internal/AuditLog.js';
export { MASTER_KEY_ENV } from './internal/Journal.js';
export { THROTTLE_MESSAGE } from './internal/errors.js';
export type { StrictCredential } from './internal/sigv4.js';
