// Generated from libs/sdk/package.json by libs/sdk/scripts/build.mjs (every build and `npm pack`); do not edit.
export const SDK_VERSION = '0.1.0';
