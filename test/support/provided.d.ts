import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the private redis-server started by test/support/global-redis.ts. */
    redisUrl: string;
  }
}
