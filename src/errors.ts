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
} as const;

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
    onExecute: () => ({ onExecuteDone: ({ result, setResult }) => tagVariableErrors(result, setResult) }),
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
    errors: errors.map((e) => (e.path === undefined && e.message.startsWith('Variable "$') && !e.extensions.code ? withCode(e, ErrorCode.BAD_USER_INPUT) : e)),
  });
}
