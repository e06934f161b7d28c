import type { StoredGrant } from './Journal.js';

/**
 * Strict-mode authorization: a small evaluator for KMS key policies and grants.
 *
 * It follows KMS's rules for the common cases: an explicit `Deny` wins, then any `Allow` or grant, else
 * access is denied. `Principal` may be `"*"`, `{ "AWS": ... }` with an account id, the account's root
 * ARN (which, as in KMS, delegates to IAM; local-kms has no IAM, so every principal of that account
 * passes) or an exact principal ARN. `Action`/`NotAction` take `kms:` names with `*` and `?` wildcards.
 * Statements with a `Condition` are skipped (not evaluated), which can only make an `Allow` not apply
 * or a `Deny` not apply; the README says so.
 */

interface Statement {
  readonly Effect?: unknown;
  readonly Principal?: unknown;
  readonly Action?: unknown;
  readonly NotAction?: unknown;
  readonly Condition?: unknown;
}

function list(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function wildcard(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(text);
}

function principalMatches(principal: unknown, caller: string, accountId: string): boolean {
  if (principal === '*') return true;
  if (typeof principal !== 'object' || principal === null) return false;
  for (const p of list((principal as Record<string, unknown>)['AWS'])) {
    if (p === '*' || p === caller) return true;
    // The account (id or root ARN) delegates to IAM, which local-kms does not model: allow the account.
    if (
      (p === accountId || p === `arn:aws:iam::${accountId}:root`) &&
      caller.includes(`::${accountId}:`)
    ) {
      return true;
    }
  }
  return false;
}

function actionMatches(s: Statement, action: string): boolean {
  if (s.Action !== undefined) return list(s.Action).some((a) => wildcard(a, action));
  if (s.NotAction !== undefined) return !list(s.NotAction).some((a) => wildcard(a, action));
  return false;
}

function contextAllows(
  grant: StoredGrant,
  context: Readonly<Record<string, string>> | undefined,
): boolean {
  const c = grant.Constraints as
    | {
        EncryptionContextSubset?: Record<string, string>;
        EncryptionContextEquals?: Record<string, string>;
      }
    | undefined;
  if (c === undefined) return true;
  const ctx = context ?? {};
  if (c.EncryptionContextEquals !== undefined) {
    const want = c.EncryptionContextEquals;
    if (Object.keys(want).length !== Object.keys(ctx).length) return false;
    if (Object.entries(want).some(([k, v]) => ctx[k] !== v)) return false;
  }
  if (c.EncryptionContextSubset !== undefined) {
    if (Object.entries(c.EncryptionContextSubset).some(([k, v]) => ctx[k] !== v)) return false;
  }
  return true;
}

/** The decision for one call: allowed, or the reason it is not. */
export type Decision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly action: string; readonly reason: string };

/**
 * Whether `caller` may perform `operation` on a key whose policy is `policy` (the stored JSON, `''` for
 * the default policy) and which carries `grants`.
 */
export function authorize(
  policy: string,
  grants: readonly StoredGrant[],
  caller: string,
  accountId: string,
  operation: string,
  context: Readonly<Record<string, string>> | undefined,
): Decision {
  // ReEncrypt is authorized on its destination key as kms:ReEncryptTo, as KMS names it.
  const action = operation === 'ReEncrypt' ? 'kms:ReEncryptTo' : `kms:${operation}`;
  let statements: Statement[] = [];
  if (policy === '') {
    statements = [
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'kms:*' },
    ];
  } else {
    try {
      const doc = JSON.parse(policy) as { Statement?: unknown };
      const st = doc.Statement;
      statements = (Array.isArray(st) ? st : [st]).filter(
        (x): x is Statement => typeof x === 'object' && x !== null,
      );
    } catch {
      statements = [];
    }
  }
  let allowed = false;
  for (const s of statements) {
    if (s.Condition !== undefined) continue;
    if (!principalMatches(s.Principal, caller, accountId) || !actionMatches(s, action)) continue;
    if (s.Effect === 'Deny') {
      return { allowed: false, action, reason: 'with an explicit deny in a resource-based policy' };
    }
    if (s.Effect === 'Allow') allowed = true;
  }
  if (allowed) return { allowed: true };
  const grantOp = operation === 'ReEncrypt' ? 'ReEncryptTo' : operation;
  if (
    grants.some(
      (g) =>
        g.GranteePrincipal === caller &&
        g.Operations.includes(grantOp) &&
        contextAllows(g, context),
    )
  ) {
    return { allowed: true };
  }
  return {
    allowed: false,
    action,
    reason: `because no resource-based policy allows the ${action} action`,
  };
}
