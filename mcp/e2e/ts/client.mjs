// End-to-end client for mcpd, driven by mcp/ts_test.go: the MCP TypeScript SDK client connects to MCP_URL,
// gets a 401, follows the protected resource metadata to the authorization server, runs the authorization
// code flow with PKCE for the pre-registered public client (submitting authd's login and consent forms
// itself, as a user would), then lists the tools and calls whoami. It prints one JSON object on stdout.
//
// Environment: MCP_URL, CLIENT_ID, REDIRECT_URI, USERNAME, PASSWORD.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { randomBytes } from 'node:crypto';

const need = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const MCP_URL = need('MCP_URL');
const CLIENT_ID = need('CLIENT_ID');
const REDIRECT_URI = need('REDIRECT_URI');
const USERNAME = need('USERNAME');
const PASSWORD = need('PASSWORD');

// trace records every HTTP exchange of the SDK (method, URL without query, status, challenge), so the test
// can check the discovery order.
const trace = [];
const tracedFetch = async (input, init) => {
  const res = await fetch(input, init);
  const u = new URL(typeof input === 'string' ? input : input.url ?? String(input));
  trace.push({
    method: (init && init.method) || 'GET',
    url: u.origin + u.pathname,
    status: res.status,
    www_authenticate: res.headers.get('www-authenticate') || undefined,
  });
  return res;
};

// A tiny user agent for authd's forms: cookies, redirects within the authorization server, form fields.
class Browser {
  constructor() { this.cookies = new Map(); }
  cookieHeader() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
  keep(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      this.cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
  }
  // go requests url and follows redirects until one leaves the authorization server (the client's
  // redirect URI), returning {page, url, final}.
  async go(url, init = {}) {
    let method = init.method || 'GET';
    let body = init.body;
    for (let hops = 0; hops < 10; hops++) {
      if (url.startsWith(REDIRECT_URI)) return { final: new URL(url) };
      const headers = { cookie: this.cookieHeader() };
      if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(url, { method, body, headers, redirect: 'manual' });
      this.keep(res);
      const loc = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && loc) {
        url = new URL(loc, url).toString();
        method = 'GET';
        body = undefined;
        continue;
      }
      return { page: await res.text(), url, status: res.status };
    }
    throw new Error('too many redirects');
  }
}

const unescape = (s) => s.replace(/&(amp|lt|gt|quot|#39|#x27|#34);/g, (m, e) =>
  ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", '#34': '"' })[e]);

// form returns the action and the values a browser would submit (hidden and text inputs, checked boxes).
function form(page) {
  const action = /<form[^>]*\baction="([^"]*)"/i.exec(page);
  if (!action) throw new Error(`no form on the page: ${page.slice(0, 300)}`);
  const fields = new URLSearchParams();
  for (const [tag] of page.matchAll(/<input\b[^>]*>/gi)) {
    const attrs = {};
    for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*"([^"]*)")?/g)) attrs[m[1].toLowerCase()] = unescape(m[2] ?? '');
    if (!attrs.name || attrs.name === 'input') continue;
    const type = (attrs.type || 'text').toLowerCase();
    if ((type === 'checkbox' || type === 'radio') && !('checked' in attrs)) continue;
    fields.append(attrs.name, attrs.value ?? '');
  }
  return { action: unescape(action[1]), fields };
}

// loginAndConsent plays the user at authd: login form, consent form (allow), and returns the code.
async function loginAndConsent(authorizationUrl) {
  const b = new Browser();
  let r = await b.go(authorizationUrl.toString());
  const steps = [];
  for (let i = 0; i < 3 && !r.final; i++) {
    const { action, fields } = form(r.page);
    const target = new URL(action, r.url).toString();
    if (action.endsWith('/login')) {
      fields.set('username', USERNAME);
      fields.set('password', PASSWORD);
      steps.push('login');
    } else if (action.endsWith('/consent')) {
      fields.set('decision', 'allow');
      steps.push('consent');
    } else {
      throw new Error(`unexpected form ${action}`);
    }
    r = await b.go(target, { method: 'POST', body: fields.toString() });
  }
  if (!r.final) throw new Error(`no redirect to the client: ${r.status} ${r.page?.slice(0, 300)}`);
  const q = r.final.searchParams;
  if (q.get('error')) throw new Error(`authorization error ${q.get('error')}: ${q.get('error_description')}`);
  return { code: q.get('code'), iss: q.get('iss'), steps };
}

class Provider {
  constructor() { this.saved = undefined; this.verifier = undefined; this.auth = undefined; this.authorizationUrl = undefined; }
  get redirectUrl() { return REDIRECT_URI; }
  get clientMetadata() {
    return { client_name: 'mcpauth TS e2e', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  // The SDK sends state only when the provider supplies one; authd insists on it (8+ characters).
  state() { return randomBytes(16).toString('base64url'); }
  clientInformation() { return { client_id: CLIENT_ID }; }
  tokens() { return this.saved; }
  saveTokens(t) { this.saved = t; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
  async redirectToAuthorization(url) {
    this.authorizationUrl = url;
    this.auth = await loginAndConsent(url);
  }
}

async function main() {
  const provider = new Provider();
  const opts = { authProvider: provider, fetch: tracedFetch };
  let client = new Client({ name: 'mcpauth-ts-e2e', version: '1.0.0' });
  let transport = new StreamableHTTPClientTransport(new URL(MCP_URL), opts);
  let firstError;
  try {
    await client.connect(transport);
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
    firstError = e.constructor.name;
  }
  if (!provider.auth) throw new Error('the SDK never asked for authorization');
  await transport.finishAuth(provider.auth.code);
  await client.close().catch(() => {});

  client = new Client({ name: 'mcpauth-ts-e2e', version: '1.0.0' });
  transport = new StreamableHTTPClientTransport(new URL(MCP_URL), opts);
  await client.connect(transport);
  const tools = await client.listTools();
  const who = await client.callTool({ name: 'whoami', arguments: {} });
  const au = new URL(provider.authorizationUrl);
  const out = {
    first_error: firstError,
    steps: provider.auth.steps,
    iss: provider.auth.iss,
    authorization_request: Object.fromEntries(au.searchParams),
    token_type: provider.saved?.token_type,
    scope: provider.saved?.scope,
    protocol_version: transport.protocolVersion,
    session_id: transport.sessionId,
    tools: tools.tools.map((t) => t.name),
    whoami: who.structuredContent,
    whoami_is_error: who.isError ?? false,
    trace,
  };
  await client.close();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`client.mjs: ${e?.stack || e}\n`);
  process.exit(1);
});
