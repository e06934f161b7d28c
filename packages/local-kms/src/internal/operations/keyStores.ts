import { randomBytes } from 'node:crypto';
import { KmsError } from '../errors.js';
import { optEnum, optString, reqString, type Input } from '../input.js';
import type { StoredKeyStore } from '../Journal.js';
import { page, pageTail, seconds, type Handler, type OpContext } from './shared.js';

function notFound(id: string): KmsError {
  return new KmsError('CustomKeyStoreNotFoundException', `Custom key store ${id} does not exist.`);
}

/** The custom key store `CustomKeyStoreId` names, or `CustomKeyStoreNotFoundException`. */
export function keyStoreOf(ctx: OpContext, input: Input): StoredKeyStore {
  const id = reqString(input, 'CustomKeyStoreId', 1, 64);
  const store = ctx.store.store(ctx.region, id);
  if (store === undefined) throw notFound(id);
  return store;
}

/** A custom key store that is connected, as creating keys and crypto need. */
export function connected(store: StoredKeyStore): StoredKeyStore {
  if (store.state !== 'CONNECTED') {
    throw new KmsError(
      'CustomKeyStoreInvalidStateException',
      `Custom key store ${store.id} is not connected.`,
    );
  }
  return store;
}

function entry(s: StoredKeyStore): Record<string, unknown> {
  return {
    CustomKeyStoreId: s.id,
    CustomKeyStoreName: s.name,
    CloudHsmClusterId: s.cloudHsmClusterId,
    TrustAnchorCertificate: s.trustAnchorCertificate,
    ConnectionState: s.state,
    CreationDate: seconds(s.creationDate),
    CustomKeyStoreType: 'AWS_CLOUDHSM',
  };
}

/**
 * Simulated CloudHSM custom key stores: CreateCustomKeyStore, ConnectCustomKeyStore,
 * DisconnectCustomKeyStore, DescribeCustomKeyStores, UpdateCustomKeyStore, DeleteCustomKeyStore.
 * There is no HSM: connecting succeeds at once, and keys in a store keep their material like any
 * other. What they add is KMS's behaviour around them: their own 1,800 rps pool (core's classifier
 * charges `custom-key-store/<id>` on top of the crypto pool) and `Unavailable` keys while disconnected.
 */
export const KEY_STORE_HANDLERS: Readonly<Record<string, Handler>> = {
  CreateCustomKeyStore(ctx, input) {
    const name = reqString(input, 'CustomKeyStoreName', 1, 256);
    const type = optEnum(input, 'CustomKeyStoreType', [
      'AWS_CLOUDHSM',
      'EXTERNAL_KEY_STORE',
    ] as const);
    if (type === 'EXTERNAL_KEY_STORE') {
      throw new KmsError(
        'UnsupportedOperationException',
        'local-kms does not simulate external key stores.',
      );
    }
    const cluster = reqString(input, 'CloudHsmClusterId', 19, 24);
    const anchor = reqString(input, 'TrustAnchorCertificate', 1, 5000);
    reqString(input, 'KeyStorePassword', 7, 32);
    if (ctx.store.stores(ctx.region).some((s) => s.name === name)) {
      throw new KmsError(
        'CustomKeyStoreNameInUseException',
        `A custom key store named ${name} exists.`,
      );
    }
    if (ctx.store.stores(ctx.region).some((s) => s.cloudHsmClusterId === cluster)) {
      throw new KmsError(
        'CloudHsmClusterInUseException',
        `${cluster} backs another custom key store.`,
      );
    }
    const id = `cks-${randomBytes(9).toString('hex').slice(0, 17)}`;
    ctx.store.putStore({
      region: ctx.region,
      id,
      name,
      cloudHsmClusterId: cluster,
      trustAnchorCertificate: anchor,
      state: 'DISCONNECTED',
      creationDate: ctx.now,
    });
    return { CustomKeyStoreId: id };
  },

  ConnectCustomKeyStore(ctx, input) {
    const store = keyStoreOf(ctx, input);
    if (store.state !== 'CONNECTED') ctx.store.putStore({ ...store, state: 'CONNECTED' });
    return {};
  },

  DisconnectCustomKeyStore(ctx, input) {
    const store = keyStoreOf(ctx, input);
    if (store.state !== 'DISCONNECTED') ctx.store.putStore({ ...store, state: 'DISCONNECTED' });
    return {};
  },

  DescribeCustomKeyStores(ctx, input) {
    const id = optString(input, 'CustomKeyStoreId', 1, 64);
    const name = optString(input, 'CustomKeyStoreName', 1, 256);
    let stores = ctx.store.stores(ctx.region);
    if (id !== undefined) {
      stores = stores.filter((s) => s.id === id);
      if (stores.length === 0) throw notFound(id);
    }
    if (name !== undefined) {
      stores = stores.filter((s) => s.name === name);
      if (stores.length === 0) throw notFound(name);
    }
    const { page: items, next } = page(stores, input, 50, 1000, (s) => s.id);
    return { CustomKeyStores: items.map(entry), ...pageTail(next) };
  },

  UpdateCustomKeyStore(ctx, input) {
    const store = keyStoreOf(ctx, input);
    const name = optString(input, 'NewCustomKeyStoreName', 1, 256);
    optString(input, 'KeyStorePassword', 7, 32);
    if (name === undefined) return {};
    if (store.state !== 'DISCONNECTED') {
      throw new KmsError(
        'CustomKeyStoreInvalidStateException',
        'Disconnect the custom key store first.',
      );
    }
    if (ctx.store.stores(ctx.region).some((s) => s.name === name && s.id !== store.id)) {
      throw new KmsError(
        'CustomKeyStoreNameInUseException',
        `A custom key store named ${name} exists.`,
      );
    }
    ctx.store.putStore({ ...store, name });
    return {};
  },

  DeleteCustomKeyStore(ctx, input) {
    const store = keyStoreOf(ctx, input);
    if (store.state !== 'DISCONNECTED') {
      throw new KmsError(
        'CustomKeyStoreInvalidStateException',
        'Disconnect the custom key store first.',
      );
    }
    if (ctx.store.keys(ctx.region).some((k) => k.stored.customKeyStoreId === store.id)) {
      throw new KmsError(
        'CustomKeyStoreHasCMKsException',
        'The custom key store still holds KMS keys.',
      );
    }
    ctx.store.deleteStore(ctx.region, store.id);
    return {};
  },
};

/** Validates `CustomKeyStoreId` on CreateKey: the store must exist and be connected. */
export function createKeyStoreId(ctx: OpContext, input: Input): string | undefined {
  if (optString(input, 'CustomKeyStoreId', 1, 64) === undefined) return undefined;
  return connected(keyStoreOf(ctx, input)).id;
}
