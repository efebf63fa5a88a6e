/**
 * Azure ABAC conditions (conditionVersion 2.0) on a role assignment that grants
 * Microsoft.Authorization/roleAssignments/{write,delete}: the "constrain role assignments"
 * (delegate role assignment management with conditions) form, evaluated when the holder writes or
 * deletes a role assignment. Only the grammar that form uses is parsed:
 *   expr   := term (OR term)*        term := factor (AND factor)*
 *   factor := '(' expr ')' | '!' factor | ActionMatches{'<action>'} | attr
 *   attr   := @Request|@Resource [Microsoft.Authorization/roleAssignments:RoleDefinitionId|PrincipalType]
 *             ForAnyOfAnyValues:GuidEquals|StringEqualsIgnoreCase {<value>, ...}
 * Anything else is a thrown Error at parse time, so no test can pass on a condition the emulator
 * did not understand.
 */

export type Attribute = 'RoleDefinitionId' | 'PrincipalType';

export interface ConditionInput {
  action: string;
  /** the role assignment in the request body (write), as @Request sees it */
  request?: Partial<Record<Attribute, string>>;
  /** the role assignment being deleted, as @Resource sees it */
  resource?: Partial<Record<Attribute, string>>;
}

type Node =
  | { op: 'or' | 'and'; parts: Node[] }
  | { op: 'not'; part: Node }
  | { op: 'action'; action: string }
  | { op: 'attr'; source: 'request' | 'resource'; attribute: Attribute; compare: 'GuidEquals' | 'StringEqualsIgnoreCase'; values: string[] };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseCondition(text: string): (input: ConditionInput) => boolean {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`ABAC condition not understood by the emulator at offset ${i} (${what}): …${text.slice(i, i + 60)}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const eat = (token: string, caseless = false) => {
    ws();
    const got = text.slice(i, i + token.length);
    if (caseless ? got.toLowerCase() === token.toLowerCase() : got === token) {
      i += token.length;
      return true;
    }
    return false;
  };
  const expect = (token: string) => {
    if (!eat(token)) fail(`expected ${token}`);
  };
  const values = (): string[] => {
    expect('{');
    const out: string[] = [];
    for (;;) {
      ws();
      const m = /^(?:'([^']*)'|([0-9a-fA-F-]{36}))/.exec(text.slice(i));
      if (!m) fail('expected a value');
      out.push(m![1] ?? m![2]!);
      i += m![0].length;
      if (eat('}')) return out;
      expect(',');
    }
  };
  function factor(): Node {
    if (eat('!')) return { op: 'not', part: factor() };
    if (eat('(')) {
      const e = expr();
      expect(')');
      return e;
    }
    if (eat('ActionMatches')) {
      const v = values();
      if (v.length !== 1) fail('ActionMatches takes one action');
      return { op: 'action', action: v[0]! };
    }
    const m = /^@(Request|Resource)\[Microsoft\.Authorization\/roleAssignments:(RoleDefinitionId|PrincipalType)\]\s+ForAnyOfAnyValues:(GuidEquals|StringEqualsIgnoreCase)\s*/.exec(text.slice((ws(), i)));
    if (!m) return fail('expected (, !, ActionMatches or a roleAssignments attribute clause');
    i += m[0].length;
    const attribute = m[2] as Attribute;
    const compare = m[3] as 'GuidEquals' | 'StringEqualsIgnoreCase';
    if ((attribute === 'RoleDefinitionId') !== (compare === 'GuidEquals')) fail(`${attribute} cannot be compared with ${compare}`);
    const vs = values();
    if (compare === 'GuidEquals' && !vs.every((v) => GUID.test(v))) fail('GuidEquals takes GUIDs');
    return { op: 'attr', source: m[1] === 'Request' ? 'request' : 'resource', attribute, compare, values: vs };
  }
  function term(): Node {
    const parts = [factor()];
    while (eat('AND')) parts.push(factor());
    return parts.length === 1 ? parts[0]! : { op: 'and', parts };
  }
  function expr(): Node {
    const parts = [term()];
    while (eat('OR')) parts.push(term());
    return parts.length === 1 ? parts[0]! : { op: 'or', parts };
  }
  const tree = expr();
  ws();
  if (i !== text.length) fail('trailing text');

  const evaluate = (n: Node, input: ConditionInput): boolean => {
    switch (n.op) {
      case 'or':
        return n.parts.some((p) => evaluate(p, input));
      case 'and':
        return n.parts.every((p) => evaluate(p, input));
      case 'not':
        return !evaluate(n.part, input);
      case 'action':
        return n.action.toLowerCase() === input.action.toLowerCase();
      case 'attr': {
        // an attribute the action does not carry (a @Request one on a delete) matches nothing
        const have = input[n.source]?.[n.attribute];
        if (have === undefined) return false;
        const norm = n.attribute === 'RoleDefinitionId' ? (have.split('/').at(-1) ?? '').toLowerCase() : have.toLowerCase();
        return n.values.some((v) => v.toLowerCase() === norm);
      }
    }
  };
  return (input) => evaluate(tree, input);
}
