export {
  TEST_CREDENTIALS,
  TEST_REGION,
  catchKmsError,
  fakeClock,
  localKmsClientConfig,
  startTestKms,
  type FakeClock,
  type TestKms,
} from './localKms.js';
