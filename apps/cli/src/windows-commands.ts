/**
 * `imc windows …`: background retrieval windows for the operator (docs/windows-and-usage.md), over the im-server's
 * admin HTTP with ADMIN_TOKEN — the T8 resource API acting for an application server, and the operator endpoints.
 */
import { fail, http, intFlag, need, Parsed, strFlag, UsageError } from './args';

export const WINDOWS_HELP = `imc windows list [--as <asId>] [--json]
imc windows show <asId> <id> [--json]
imc windows create <asId> --volume <octets per user> --ues <users> --start <ISO> --stop <ISO> [--rating-group G] [--json]
imc windows select <asId> <id> --policy <bdtPolicyId> [--json]
imc windows delete <asId> <id>
imc windows register-as <asId> --token <token of at least 16 characters>
imc windows capacity <windowId> --octets <octets>   (lower than booked: the latest bookings are cancelled)`;

export const WINDOWS_FLAGS = ['as', 'volume', 'ues', 'start', 'stop', 'rating-group', 'policy', 'token', 'octets'];

interface Policy {
  bdtPolicyId: number;
  recTimeWindow: { startTime: string; stopTime: string };
  ratingGroup: string;
  windowId: string;
}
interface Resource {
  bdtReferenceId: string;
  asId: string;
  state: string;
  selectedPolicy?: number;
  volumePerUe: { totalVolume: number };
  numberOfUes: number;
  transferPolicies: Policy[];
  reason?: string;
}

function describe(r: Resource): string[] {
  const head = `${r.bdtReferenceId}  ${r.asId}  ${r.state}${r.reason ? ` (${r.reason})` : ''}  ${r.numberOfUes} users × ${r.volumePerUe.totalVolume} octets`;
  return [
    head,
    ...r.transferPolicies.map(
      (p) => `  ${p.bdtPolicyId === r.selectedPolicy ? '*' : ' '} policy ${p.bdtPolicyId}: ${p.recTimeWindow.startTime} → ${p.recTimeWindow.stopTime}  rating group ${p.ratingGroup}  window ${p.windowId}`,
    ),
  ];
}

const sub = (asId: string, id?: string) => `/3gpp-bdt/v1/${encodeURIComponent(asId)}/subscriptions${id ? `/${encodeURIComponent(id)}` : ''}`;

function isoFlag(p: Parsed, name: string): string {
  const v = strFlag(p, name, true);
  if (Number.isNaN(Date.parse(v))) throw new UsageError(`--${name} must be an ISO 8601 date-time (e.g. 2026-12-05T22:00:00Z)`);
  return v;
}

export async function windowsCommand(im: string, p: Parsed, json: boolean, out: (s: string) => void): Promise<number> {
  const what = p.positional[0];
  const print = (r: Resource) => (json ? out(JSON.stringify(r)) : describe(r).forEach((l) => out(l)));
  switch (what) {
    case 'list': {
      const r = await http(im, 'GET', '/v1/bdt/subscriptions');
      if (r.status !== 200) fail(r, 'windows list');
      const as = strFlag(p, 'as');
      const list = (r.json.subscriptions as Resource[]).filter((x) => as === undefined || x.asId === as);
      if (json) out(JSON.stringify(list));
      else if (!list.length) out('no background-window resources');
      else list.forEach(print);
      return 0;
    }
    case 'show': {
      const r = await http(im, 'GET', sub(need(p, 1, 'asId'), need(p, 2, 'resource id')));
      if (r.status !== 200) fail(r, 'windows show');
      print(r.json);
      return 0;
    }
    case 'create': {
      const body = {
        volumePerUe: { totalVolume: intFlag(p, 'volume', true) },
        numberOfUes: intFlag(p, 'ues', true),
        desiredTimeWindow: { startTime: isoFlag(p, 'start'), stopTime: isoFlag(p, 'stop') },
        ...(strFlag(p, 'rating-group') ? { ratingGroup: strFlag(p, 'rating-group') } : {}),
      };
      const r = await http(im, 'POST', sub(need(p, 1, 'asId')), body);
      if (r.status !== 201) fail(r, 'windows create');
      print(r.json);
      return 0;
    }
    case 'select': {
      const r = await http(im, 'PATCH', sub(need(p, 1, 'asId'), need(p, 2, 'resource id')), { selectedPolicy: intFlag(p, 'policy', true) });
      if (r.status !== 200) fail(r, 'windows select');
      print(r.json);
      return 0;
    }
    case 'delete': {
      const id = need(p, 2, 'resource id');
      const r = await http(im, 'DELETE', sub(need(p, 1, 'asId'), id));
      if (r.status !== 204) fail(r, 'windows delete');
      out(json ? JSON.stringify({ deleted: id }) : `deleted ${id} and its booking`);
      return 0;
    }
    case 'register-as': {
      const asId = need(p, 1, 'asId');
      const r = await http(im, 'PUT', `/v1/bdt/as/${encodeURIComponent(asId)}`, { token: strFlag(p, 'token', true) });
      if (r.status !== 201 && r.status !== 200) fail(r, 'windows register-as');
      out(json ? JSON.stringify(r.json) : `${r.json.created ? 'registered' : 'new token for'} application server ${asId}`);
      return 0;
    }
    case 'capacity': {
      const windowId = need(p, 1, 'windowId (transferPolicies[].windowId, e.g. off-peak@20261205T210000Z)');
      const r = await http(im, 'PUT', `/v1/bdt/windows/${encodeURIComponent(windowId)}/capacity`, { octets: intFlag(p, 'octets', true) });
      if (r.status !== 200) fail(r, 'windows capacity');
      out(json ? JSON.stringify(r.json) : `${windowId}: capacity ${r.json.capacity} octets${r.json.cancelled.length ? `; cancelled ${r.json.cancelled.join(', ')}` : ''}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown windows command ${JSON.stringify(what)} (list, show, create, select, delete, register-as, capacity)`);
  }
}
