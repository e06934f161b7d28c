/** Name of the instrumentation scope of every tracer and meter this package creates. */
export const INSTRUMENTATION_NAME = '@steadykms/otel';

/** Version of the instrumentation scope; kept in step with package.json by hand. */
export const INSTRUMENTATION_VERSION = '0.0.0';
