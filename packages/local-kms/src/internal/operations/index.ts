import { ALIAS_HANDLERS } from './aliases.js';
import { ASYMMETRIC_HANDLERS } from './asymmetric.js';
import { CRYPTO_HANDLERS } from './crypto.js';
import { GRANT_HANDLERS } from './grants.js';
import { KEY_HANDLERS } from './keys.js';
import { KEY_STORE_HANDLERS } from './keyStores.js';
import { ROTATION_HANDLERS } from './rotation.js';
import type { Handler } from './shared.js';

export type { Handler, OpContext } from './shared.js';

/** Every operation local-kms implements, by KMS operation name. */
export const HANDLERS: Readonly<Record<string, Handler>> = {
  ...KEY_HANDLERS,
  ...ROTATION_HANDLERS,
  ...ALIAS_HANDLERS,
  ...CRYPTO_HANDLERS,
  ...ASYMMETRIC_HANDLERS,
  ...GRANT_HANDLERS,
  ...KEY_STORE_HANDLERS,
};
