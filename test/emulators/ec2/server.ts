/** HTTP front end: Query-protocol parsing, SigV4 checks, throttling, permissions, DryRun, dispatch. */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { catalogActions } from './actions-catalog.js';
import { offeringActions } from './capacity.js';
import { instanceActions } from './actions-instances.js';
import { networkActions } from './actions-network.js';
import { tagActions } from './actions-tags.js';
import type { ActionDef, Ctx, EmulatorControls } from './context.js';
import { Ec2Error } from './errors.js';
import type { EmulatorState } from './model.js';
import { Params } from './params.js';
import { parseAuthorization, verifySignature } from './sigv4.js';
import { isAllowed, READER_ACCESS_KEY_ID, READ_ONLY_POLICY } from './iam-policy.js';
import { authorizationRequests } from './iam-requests.js';
import { iamAuthorization, iamErrorXml, iamResponse, isIamAction, runIamAction, type IamState } from './iam-service.js';
import type { FaultInjector } from '../faults/injector.js';
import { ec2ErrorXml, ec2Response, el, stsErrorXml, stsResponse } from './xml.js';

export const ACTIONS: Record<string, ActionDef> = { ...catalogActions, ...instanceActions, ...networkActions, ...tagActions, ...offeringActions };

export interface RequestLogEntry {
  action: string;
  params: Record<string, string>;
  /** HTTP status of the answer (filled in once answered) */
  status?: number;
  /** error code, when the answer was an error */
  error?: string;
  /** region of the SigV4 credential scope */
  region?: string;
  /** the access key id that signed the request (which credentials the client used) */
  accessKeyId?: string;
}

export interface ServerDeps {
  state: EmulatorState;
  controls: EmulatorControls;
  credentials: { accessKeyIds?: string[]; secretAccessKey?: string };
  requests: RequestLogEntry[];
  throttle: { remaining: number };
  faults: FaultInjector;
  /** IAM users and the access keys it created (identities this server accepts) */
  iam: IamState;
}

const AUTH_FAILURE = 'AWS was not able to validate the provided access credentials';

/** Actions that change nothing: UnauthorizedOperation for these carries no encoded message. */
const isReadOnly = (action: string) => action.startsWith('Describe') || action.startsWith('Get');

function resourceArn(action: string, region: string, account: string): string {
  const kind = /Instance/.test(action) ? 'instance' : /SecurityGroup/.test(action) ? 'security-group' : /Address/.test(action) ? 'elastic-ip' : undefined;
  return kind ? `arn:aws:ec2:${region}:${account}:${kind}/*` : '*';
}

function unauthorized(action: string, region: string, account: string, resource = resourceArn(action, region, account), user = `arn:aws:iam::${account}:user/test`): Ec2Error {
  if (isReadOnly(action)) {
    return new Ec2Error('UnauthorizedOperation', `You are not authorized to perform this operation. User: ${user} is not authorized to perform: ec2:${action} because no identity-based policy allows the ec2:${action} action`, 403);
  }
  const encoded = Buffer.from(createHash('sha256').update(`${action}/${region}`).digest()).toString('base64url').repeat(3);
  return new Ec2Error(
    'UnauthorizedOperation',
    `You are not authorized to perform this operation. User: ${user} is not authorized to perform: ec2:${action} on resource: ${resource} because no identity-based policy allows the ec2:${action} action. Encoded authorization failure message: ${encoded}`,
    403,
  );
}

export function createEc2Server(deps: ServerDeps): http.Server {
  const { state, controls, credentials, requests, throttle, iam } = deps;

  function handle(req: http.IncomingMessage, body: Buffer, injected?: 'throttle' | '5xx'): { status: number; body: string; requestId: string } {
    const requestId = randomUUID();
    const url = req.url ?? '/';
    const raw: Record<string, string> = {};
    const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
    for (const [k, v] of new URLSearchParams(query)) raw[k] = v;
    if (req.method === 'POST') for (const [k, v] of new URLSearchParams(body.toString('utf8'))) raw[k] = v;
    const action = raw.Action ?? '';
    const auth = parseAuthorization(req.headers.authorization);
    const entry: RequestLogEntry = { action, params: raw, region: auth?.region, accessKeyId: auth?.accessKeyId };
    requests.push(entry);
    const sts = action === 'GetCallerIdentity' || raw.Version === '2011-06-15' || auth?.service === 'sts';
    const iamApi = !sts && (raw.Version === '2010-05-08' || auth?.service === 'iam');
    // a key IAM created here: its own secret signs, its user's inline policies judge every call
    const iamKey = auth ? iam.byAccessKey(auth.accessKeyId) : undefined;
    const callerArn = iamKey?.user.arn ?? `arn:aws:iam::${controls.accountId}:user/test`;

    const fail = (e: Ec2Error) => {
      entry.status = e.status;
      entry.error = e.code;
      const type = e.status >= 500 ? 'Receiver' : 'Sender';
      if (iamApi) return { status: e.status, body: iamErrorXml(e.code, e.message, requestId, type), requestId };
      return { status: e.status, body: sts ? stsErrorXml(e.code, e.message, requestId, e.status >= 500 ? 'Receiver' : 'Sender') : ec2ErrorXml(e.code, e.message, requestId), requestId };
    };
    const ok = (xml: string) => {
      entry.status = 200;
      return { status: 200, body: xml, requestId };
    };

    try {
      if (injected === 'throttle') throw sts ? new Ec2Error('Throttling', 'Rate exceeded', 400) : new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
      if (injected === '5xx') throw new Ec2Error('InternalError', 'An internal error has occurred', 500);
      if (throttle.remaining > 0) {
        throttle.remaining--;
        throw sts ? new Ec2Error('Throttling', 'Rate exceeded', 400) : new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
      }
      // --- authentication (SigV4)
      if (!auth) {
        throw sts || iamApi
          ? new Ec2Error('MissingAuthenticationToken', 'Request is missing Authentication Token', 403)
          : new Ec2Error('AuthFailure', AUTH_FAILURE, 401);
      }
      // Temporary credentials (ASIA… key ids, from STS) are valid only with their session token.
      const temporaryWithoutToken = auth.accessKeyId.startsWith('ASIA') && !req.headers['x-amz-security-token'];
      const known = iamKey ? iamKey.key.status === 'Active' : credentials.accessKeyIds === undefined || credentials.accessKeyIds.includes(auth.accessKeyId) || auth.accessKeyId === READER_ACCESS_KEY_ID;
      if (!known || temporaryWithoutToken) {
        throw sts || iamApi ? new Ec2Error('InvalidClientTokenId', 'The security token included in the request is invalid.', 403) : new Ec2Error('AuthFailure', AUTH_FAILURE, 401);
      }
      const secret = iamKey ? iamKey.key.secretAccessKey : credentials.secretAccessKey;
      if (secret !== undefined && !verifySignature(req.method ?? 'POST', url, req.headers, body, auth, secret)) {
        throw new Ec2Error(
          'SignatureDoesNotMatch',
          'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
          403,
        );
      }
      if (sts) {
        if (action !== 'GetCallerIdentity') throw new Ec2Error('InvalidAction', `Could not find operation ${action} for version ${raw.Version ?? ''}`, 400);
        const account = controls.accountId;
        return ok(
          stsResponse(
            'GetCallerIdentity',
            requestId,
            el('Arn', callerArn) + el('UserId', iamKey?.user.userId ?? `AIDA${createHash('sha256').update(account).digest('hex').slice(0, 17).toUpperCase()}`) + el('Account', account),
          ),
        );
      }
      const callerPolicy = iamKey ? iam.policyOf(iamKey.user) : auth.accessKeyId === READER_ACCESS_KEY_ID ? READ_ONLY_POLICY : controls.iamPolicy;
      if (iamApi) {
        // IAM is global: signed for us-east-1, service iam.
        if (auth.service !== 'iam') throw new Ec2Error('SignatureDoesNotMatch', `Credential should be scoped to correct service: 'iam'.`, 403);
        if (!isIamAction(action)) throw new Ec2Error('InvalidAction', `Could not find operation ${action} for version ${raw.Version ?? ''}`, 400);
        const call = { action, raw, ...(iamKey ? { caller: iamKey.user } : {}) };
        const r = iamAuthorization(iam, call);
        if (callerPolicy && !isAllowed(callerPolicy, r)) {
          throw new Ec2Error('AccessDenied', `User: ${callerArn} is not authorized to perform: ${r.action} on resource: ${r.resource} because no identity-based policy allows the ${r.action} action`, 403);
        }
        return ok(iamResponse(action, requestId, runIamAction(iam, call)));
      }
      const info = state.regionInfo(auth.region);
      if (!info || info.optIn === 'not-opted-in') throw new Ec2Error('AuthFailure', AUTH_FAILURE, 401);
      if (auth.service !== 'ec2') throw new Ec2Error('AuthFailure', `Credential should be scoped to correct service: 'ec2'.`, 401);
      if (!action) throw new Ec2Error('MissingAction', 'The request must contain the parameter Action', 400);
      const def = ACTIONS[action];
      if (!def) throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`, 400);
      if (!raw.Version) throw new Ec2Error('MissingParameter', 'The request must contain the parameter Version', 400);

      state.ensureRegion(auth.region);
      state.tick();
      const p = new Params(raw);
      for (const key of Object.keys(raw)) {
        if (key === 'Action' || key === 'Version') continue;
        const root = key.split('.')[0]!;
        if (!def.params.includes(root)) throw new Ec2Error('UnknownParameter', `The parameter ${root} is not recognized`, 400);
      }
      for (const r of def.required ?? []) if (!p.has(r) || p.get(r) === '') throw new Ec2Error('MissingParameter', `The request must contain the parameter ${r}`, 400);
      const dryRun = p.bool('DryRun') ?? false;
      if (controls.deniedActions.has(action) || controls.deniedActions.has(`ec2:${action}`)) throw unauthorized(action, auth.region, controls.accountId);
      const ctx: Ctx = { state, controls, region: auth.region, action, p, now: state.now(), dryRun };
      const policy = callerPolicy;
      if (policy) {
        // IAM judges the request before EC2 runs it (DryRun too): the first resource no statement allows is named.
        const refused = authorizationRequests(ctx).find((r) => !isAllowed(policy, r));
        if (refused) throw unauthorized(refused.action.slice('ec2:'.length), auth.region, controls.accountId, refused.resource, callerArn);
      }
      if (dryRun) {
        // Like EC2, a dry run still validates the request (unknown AMI, wrong state, …): execute it, then roll back.
        const rollback = state.snapshot();
        try {
          def.handler(ctx);
        } finally {
          rollback();
        }
        throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
      }
      return ok(ec2Response(action, requestId, def.handler(ctx)));
    } catch (err) {
      if (err instanceof Ec2Error) return fail(err);
      console.error('[ec2-emulator] internal error', err);
      return fail(new Ec2Error('InternalError', 'An internal error has occurred', 500));
    }
  }

  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      // injected faults count real calls only (a DryRun is a permission check)
      const params = new URLSearchParams(req.method === 'POST' ? body.toString('utf8') : (req.url ?? '').split('?')[1] ?? '');
      const fault = params.get('DryRun') === 'true' ? undefined : deps.faults.take(params.get('Action') ?? '');
      if (fault === 'hang') {
        setTimeout(() => res.destroy(), deps.faults.hangMs).unref();
        return;
      }
      const out = handle(req, body, fault === 'lost' ? undefined : fault);
      if (fault === 'lost') {
        res.destroy();
        return;
      }
      res.writeHead(out.status, {
        'content-type': 'text/xml;charset=UTF-8',
        'x-amzn-requestid': out.requestId,
        server: 'AmazonEC2',
      });
      res.end(out.body);
    });
  });
}
