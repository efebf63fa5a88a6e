/**
 * Fault injection shared by the emulators: make the Nth call (from now) of an action fail as a
 * real service or network does —
 *   '5xx'      the service's internal error (EC2 500 InternalError; Cloudflare 500 code 10002)
 *   'throttle' the service's rate limit (EC2 503 RequestLimitExceeded; Cloudflare 429 code 971)
 *   'hang'     no answer: the connection is held past the client's patience, then dropped
 *   'lost'     the call takes effect, but the answer never arrives (the connection drops)
 *   'kill'     the CLI is SIGKILLed right after this call took effect (`onKill`), as a crash
 *              or a closed laptop would stop it; the emulator then drops the answer, as for 'lost'
 * Each planned fault fires once. An action is named by the emulator ("RunInstances" for EC2,
 * "PUT /accounts/…/workers/scripts/x" matched by a RegExp for Cloudflare).
 */
export type FaultKind = '5xx' | 'throttle' | 'hang' | 'lost' | 'kill';
export const FAULT_KINDS: readonly FaultKind[] = ['5xx', 'throttle', 'hang', 'lost', 'kill'];
/** What an emulator does for a planned fault ('kill' is 'lost' for the emulator; the test kills). */
export type EmulatedFault = Exclude<FaultKind, 'kill'>;

interface Plan {
  matches: (call: string) => boolean;
  /** calls of the action still to let through before this one fails */
  skip: number;
  kind: FaultKind;
}

export class FaultInjector {
  readonly #plans: Plan[] = [];
  /** what fired, in order, for a test's report */
  readonly fired: Array<{ call: string; kind: FaultKind }> = [];

  /** the test's hook for 'kill': SIGKILL the CLI process making the call */
  onKill: (() => void) | undefined;

  /** how long a 'hang' holds the connection before dropping it */
  constructor(public hangMs = 2_000) {}

  /** The `nth` (1-based) next call matching `action` fails with `kind`. */
  failCall(action: string | RegExp, nth: number, kind: FaultKind): void {
    const matches = typeof action === 'string' ? (c: string) => c === action : (c: string) => action.test(c);
    this.#plans.push({ matches, skip: Math.max(0, nth - 1), kind });
  }

  /** Called for every incoming call: the fault to inject, if one is due. */
  take(call: string): EmulatedFault | undefined {
    const i = this.#plans.findIndex((p) => p.matches(call));
    if (i === -1) return undefined;
    const plan = this.#plans[i]!;
    if (plan.skip > 0) {
      plan.skip--;
      return undefined;
    }
    this.#plans.splice(i, 1);
    this.fired.push({ call, kind: plan.kind });
    if (plan.kind === 'kill') {
      this.onKill?.();
      return 'lost';
    }
    return plan.kind;
  }

  /** planned faults that have not fired */
  get pending(): number {
    return this.#plans.length;
  }

  clear(): void {
    this.#plans.length = 0;
  }
}
