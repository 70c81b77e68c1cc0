export { FULL_ACCESS, PERMISSIONS, isPermission, type Permission } from './catalog.js';
export { checkGrant, type GrantDenial, type GrantRequest, type KeyEnvironment } from './check-grant.js';
export { canGrant, covers, permissionCovers } from './covers.js';
export { satisfies } from './satisfies.js';
export { forbiddenForTestKeys, isForbiddenForTestKeys } from './test-keys.js';
export { validatePermissions, type ValidatePermissionsResult } from './validate.js';
