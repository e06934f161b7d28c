// Buffer APIs.
export { encrypt, type EncryptOptions, type EncryptResult } from './encrypt.js';
export { decrypt, type DecryptOptions, type DecryptResult } from './decrypt.js';

// Errors.
export { DecryptionError, MessageFormatError } from './errors.js';

// Suites and policies.
export {
  AlgorithmSuiteId,
  DEFAULT_COMMITMENT_POLICY,
  DEFAULT_FRAME_LENGTH,
  allSuites,
  getSuite,
  type AlgorithmSuite,
  type AlgorithmSuiteIdValue,
  type CommitmentPolicy,
  type EncryptSuiteId,
} from './suites.js';

// Keyrings and materials.
export type { DecryptionMaterials, EncryptionMaterials, Keyring } from './keyrings/types.js';
export { RawAesKeyring, type RawAesKeyringOptions } from './keyrings/RawAesKeyring.js';
export {
  RawRsaKeyring,
  type RawRsaKeyringOptions,
  type RsaPadding,
} from './keyrings/RawRsaKeyring.js';
export { MultiKeyring, type MultiKeyringOptions } from './keyrings/MultiKeyring.js';
export {
  DefaultMaterialsManager,
  type DecryptionMaterialsRequest,
  type DecryptionMaterialsResult,
  type EncryptionMaterialsRequest,
  type EncryptionMaterialsResult,
  type MaterialsManager,
} from './materials/DefaultMaterialsManager.js';

// Message format (pure serialisers and parsers).
export {
  PUBLIC_KEY_CONTEXT_KEY,
  RESERVED_CONTEXT_PREFIX,
  parseEncryptionContext,
  serializeEncryptionContext,
  type EncryptionContext,
} from './format/encryptionContext.js';
export {
  ContentType,
  parseHeader,
  serializeHeaderBody,
  type EncryptedDataKey,
  type HeaderFields,
  type MessageHeader,
  type ParsedHeader,
} from './format/header.js';
export {
  BodyAadContent,
  SEQUENCE_NUMBER_END,
  frameCounts,
  frameIv,
  framedBodySize,
  parseFooter,
  parseFrame,
  parseNonFramedBody,
  serializeBodyAad,
  serializeFooter,
  type ParsedFrame,
} from './format/body.js';

// Streams.
export {
  encryptStream,
  encryptWebStream,
  type EncryptStreamOptions,
} from './stream/encryptStream.js';
export type { ParallelStreamOptions } from './internal/parallelFrames.js';
export {
  DecryptTransform,
  decryptStream,
  decryptWebStream,
  type DecryptStreamOptions,
  type DecryptedHeaderInfo,
} from './stream/decryptStream.js';

// AWS KMS keyrings.
export { KMS_PROVIDER_ID, KmsKeyring, type KmsKeyringOptions } from './keyrings/KmsKeyring.js';
export {
  KmsDiscoveryKeyring,
  type DiscoveryFilter,
  type KmsDiscoveryKeyringOptions,
} from './keyrings/KmsDiscoveryKeyring.js';

// Caching and batches.
export {
  CachingMaterialsManager,
  type CachedMaterials,
  type CachingMaterialsManagerOptions,
} from './materials/CachingMaterialsManager.js';
export {
  decryptMany,
  encryptMany,
  type BatchItem,
  type BatchOptions,
  type BatchProgress,
  type BatchResult,
} from './batch.js';
export { EncryptionWorkerPool, type EncryptionWorkerPoolOptions } from './internal/WorkerPool.js';
