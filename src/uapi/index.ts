/**
 * The ABI edge of the model: layouts and numbers generated from the uAPI
 * headers, the ioctl table, errno names, and the codec.
 */
export * from './layout.js';
export * from './versions.js';
export * from './ioctls.js';
export * from './errno.js';
export * from './codec.js';
