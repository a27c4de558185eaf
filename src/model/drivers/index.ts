/** The hardware profiles by driver name. */
import type { DriverName, Profile } from './profile.js';
import { mockProfile } from './mock.js';
import { vtdProfile } from './intel_vtd.js';
import { smmuv3Profile } from './arm_smmuv3.js';

export const PROFILES: Readonly<Record<DriverName, Profile>> = {
  mock: mockProfile,
  intel_vtd: vtdProfile,
  arm_smmuv3: smmuv3Profile,
};

export * from './profile.js';
export { vtdCacheInvalidateUser } from './intel_vtd.js';
export { smmuv3CacheInvalidate, smmuValidateVste } from './arm_smmuv3.js';
