import { describe, expect, it } from 'vitest';
import { buildpackFeatures, effectiveFeatures, platformFeatures } from './features.js';
import { EXIT_CODES } from './exit-codes.js';

describe('platform.md: Platform API Compatibility', () => {
  it('turns the Platform API into feature flags once', () => {
    expect(platformFeatures()).toEqual({ api: '0.15', execEnv: true, targets: true, sourceDateEpoch: true, processCommandArray: true });
    expect(platformFeatures('0.12')).toMatchObject({ api: '0.12', execEnv: false, targets: true });
  });

  it.each(['0.11', '0.16', '1.0', 'x'])('refuses Platform API %s with PLATFORM_API (exit 11)', (api) => {
    expect(() => platformFeatures(api)).toThrow(
      expect.objectContaining({ code: 'PLATFORM_API', message: `Platform API ${api} is not supported; lading supports Platform API 0.12 to 0.15` }),
    );
    expect(EXIT_CODES.PLATFORM_API).toBe(11);
  });
});

describe('buildpack.md: Buildpack API Compatibility — features', () => {
  it('turns a Buildpack API into feature flags', () => {
    expect(buildpackFeatures('0.10')).toEqual({ api: '0.10', targetEnv: true, execEnv: false, overridableArgs: true, envOverrideByDefault: true, positionalArgs: true });
    expect(buildpackFeatures('0.12').execEnv).toBe(true);
  });

  it('refuses an unsupported Buildpack API with BUILDPACK_API (exit 12), naming the file', () => {
    expect(() => buildpackFeatures('0.8', '/cnb/buildpacks/x/1.0.0/buildpack.toml')).toThrow(
      expect.objectContaining({ code: 'BUILDPACK_API', message: '/cnb/buildpacks/x/1.0.0/buildpack.toml: Buildpack API 0.8 is not supported; lading supports Buildpack API 0.10 to 0.12' }),
    );
    expect(EXIT_CODES.BUILDPACK_API).toBe(12);
  });

  it('a flag that needs both sides is on only when both APIs have it', () => {
    expect(effectiveFeatures(platformFeatures('0.14'), buildpackFeatures('0.12')).execEnv).toBe(false);
    expect(effectiveFeatures(platformFeatures('0.15'), buildpackFeatures('0.11')).execEnv).toBe(false);
    expect(effectiveFeatures(platformFeatures('0.15'), buildpackFeatures('0.12')).execEnv).toBe(true);
  });
});
