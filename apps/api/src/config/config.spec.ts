import { ConfigError, loadConfig, parseSize } from './config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      port: 3000,
      databaseUrl: undefined,
      dataDir: './.xray/data',
      rootKey: undefined,
      migrate: true,
      maxBodyBytes: 16 * 1024 * 1024,
      maxCandidatesPerRequest: 10_000,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db:5432/xray',
      XRAY_DATA_DIR: '/data',
      XRAY_ROOT_KEY: 'r'.repeat(32),
      XRAY_MIGRATE: 'false',
      XRAY_MAX_BODY: '512kb',
      XRAY_MAX_CANDIDATES_PER_REQUEST: '500',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u:p@db:5432/xray',
      dataDir: '/data',
      rootKey: 'r'.repeat(32),
      migrate: false,
      maxBodyBytes: 512 * 1024,
      maxCandidatesPerRequest: 500,
    });
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'not a url'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['XRAY_ROOT_KEY', 'short'],
    ['XRAY_MIGRATE', 'maybe'],
    ['XRAY_MAX_BODY', 'huge'],
    ['XRAY_MAX_CANDIDATES_PER_REQUEST', '0'],
    ['XRAY_MAX_CANDIDATES_PER_REQUEST', '-5'],
    ['XRAY_AUTH_FAILURE_LIMIT', 'many'],
    ['XRAY_PREVIEW_CHARS', '0'],
    ['XRAY_PREVIEW_CHARS', '2k'],
    ['XRAY_TRUST_PROXY', 'yes please'],
    ['XRAY_TRUST_PROXY', '10.0.0.0/99'],
    ['XRAY_TRUST_PROXY', 'loopback, 10.0.0.300'],
  ])('stops with a message naming %s for %j', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration: ${name} `));
  });

  it('reads the metrics settings: off by default, on with XRAY_METRICS=true or a token', () => {
    expect(loadConfig({})).toMatchObject({ metricsEnabled: false, metricsToken: undefined });
    expect(loadConfig({ XRAY_METRICS: 'true' })).toMatchObject({ metricsEnabled: true, metricsToken: undefined });
    expect(loadConfig({ XRAY_METRICS_TOKEN: 'm'.repeat(24) })).toMatchObject({ metricsEnabled: true, metricsToken: 'm'.repeat(24) });
    expect(loadConfig({ XRAY_METRICS: 'true', XRAY_METRICS_TOKEN: 'm'.repeat(24) }).metricsEnabled).toBe(true);
    for (const [env, name] of [
      [{ XRAY_METRICS: 'sometimes' }, 'XRAY_METRICS'],
      [{ XRAY_METRICS_TOKEN: 'short' }, 'XRAY_METRICS_TOKEN'],
      [{ XRAY_METRICS_TOKEN: 'has a space in it, long enough' }, 'XRAY_METRICS_TOKEN'],
      [{ XRAY_METRICS: 'false', XRAY_METRICS_TOKEN: 'm'.repeat(24) }, 'XRAY_METRICS'],
    ] as const) {
      expect(() => loadConfig(env)).toThrow(new RegExp(`^Invalid configuration: ${name} `));
    }
  });

  it('reads the client-address settings', () => {
    expect(loadConfig({})).toMatchObject({ authFailureLimitPerMinute: 300, trustProxy: false });
    expect(loadConfig({ XRAY_AUTH_FAILURE_LIMIT: '0' }).authFailureLimitPerMinute).toBe(0);
    expect(loadConfig({ XRAY_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ XRAY_TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ XRAY_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ XRAY_TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::/8, 192.0.2.1' }).trustProxy).toBe('loopback,10.0.0.0/8,fd00::/8,192.0.2.1');
  });

  it('reads the preview length of list answers', () => {
    expect(loadConfig({}).previewChars).toBe(2000);
    expect(loadConfig({ XRAY_PREVIEW_CHARS: '120' }).previewChars).toBe(120);
  });

  it('parses sizes', () => {
    expect(parseSize('16mb')).toBe(16 * 1024 * 1024);
    expect(parseSize('1.5KB')).toBe(1536);
    expect(parseSize('100')).toBe(100);
    expect(parseSize('0')).toBeUndefined();
    expect(parseSize('lots')).toBeUndefined();
  });
});
