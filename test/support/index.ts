export {
  TEST_CREDENTIALS,
  TEST_REGION,
  fakeClock,
  localKmsClientConfig,
  startTestKms,
  type FakeClock,
  type TestKms,
} from './localKms.js';
