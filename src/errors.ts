/**
 * Expected failures, as GraphQL errors with a stable `extensions.code`. Anything else thrown
 * in a resolver is unexpected: yoga masks it for the client ("Unexpected error.") and the
 * full error is logged.
 */
import { GraphQLError, specifiedRules, ValuesOfCorrectTypeRule, type ExecutionResult, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export const ErrorCode = {
  /** An argument is outside what API.md allows. */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** The live state (Redis) cannot be reached right now; retrying later will work. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** API keys are on (`API_KEYS`) and the request has no valid key. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The client's address is over its query or subscription budget; `extensions.retryAfter` says when to retry (seconds). */
  RATE_LIMITED: 'RATE_LIMITED',
  /** Too many open WebSocket connections and SSE streams, from the address or in all. */
  CONNECTION_LIMIT: 'CONNECTION_LIMIT',
  /** A graphql-ws connection already runs `WS_MAX_SUBSCRIPTIONS_PER_CONNECTION` operations. */
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
} as const;

/**
 * True for the errors ioredis raises when Redis cannot be reached: the command connection
 * has no offline queue, so while Redis is away commands fail at once with one of these
 * rather than waiting.
 */
export function isStoreUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Stream isn't writeable|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|EPIPE|LOADING|Reached the max retries/.test(error.message)
  );
}

const STORE_UNAVAILABLE_MESSAGE = 'The live market state is unavailable right now; try again shortly.';

export function badUserInput(message: string, argument?: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.BAD_USER_INPUT, ...(argument ? { argument } : {}) },
  });
}

/**
 * Marks argument-value errors that graphql-js raises before any resolver runs (an unknown
 * enum value, a string where an Int belongs, a bad variable) with BAD_USER_INPUT, as API.md
 * requires; graphql-js itself gives them no code.
 */
export function useUserInputErrorCodes(): Plugin {
  return {
    onValidate({ setValidationFn, validateFn }) {
      setValidationFn((schema, document, rules = specifiedRules, ...rest) =>
        validateFn(
          schema,
          document,
          rules.map((rule: ValidationRule) => (rule === ValuesOfCorrectTypeRule ? valuesOfCorrectTypeWithCode : rule)),
          ...rest,
        ),
      );
    },
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        tagVariableErrors(result, setResult);
        tagStoreErrors(result, setResult);
      },
    }),
    onSubscribe: () => ({ onSubscribeResult: ({ result, setResult }) => tagVariableErrors(result, setResult) }),
  };
}

const valuesOfCorrectTypeWithCode: ValidationRule = (context) =>
  ValuesOfCorrectTypeRule(
    new Proxy(context, {
      get(target, property, receiver) {
        if (property === 'reportError') {
          return (error: GraphQLError) => target.reportError(withCode(error, ErrorCode.BAD_USER_INPUT));
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }),
  );

function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}

// Variable coercion happens inside execute/subscribe and fails the whole operation with
// errors that have no path; their messages begin with `Variable "$`.
function tagVariableErrors(result: unknown, setResult: (result: ExecutionResult) => void): void {
  if (!result || typeof result !== 'object' || !('errors' in result) || 'data' in result) return;
  const { errors } = result as ExecutionResult;
  if (!errors?.some((e) => e.path === undefined && e.message.startsWith('Variable "$'))) return;
  setResult({
    ...(result as ExecutionResult),
    errors: errors.map((e) => (e.path === undefined && e.message.startsWith('Variable "$') && !e.extensions?.code ? withCode(e, ErrorCode.BAD_USER_INPUT) : e)),
  });
}

// A resolver that could not reach Redis fails with the raw ioredis error, which yoga would mask
// as "Unexpected error."; clients should instead learn that retrying will help.
function tagStoreErrors(result: unknown, setResult: (result: ExecutionResult) => void): void {
  if (!result || typeof result !== 'object' || !('errors' in result)) return;
  const { errors } = result as ExecutionResult;
  if (!errors?.some((e) => isStoreUnavailable(e.originalError))) return;
  setResult({
    ...(result as ExecutionResult),
    errors: errors.map((e) =>
      isStoreUnavailable(e.originalError)
        ? new GraphQLError(STORE_UNAVAILABLE_MESSAGE, { nodes: e.nodes, path: e.path, extensions: { code: ErrorCode.SERVICE_UNAVAILABLE } })
        : e,
    ),
  });
}
