import { describe, expect, it } from 'vitest';
import {
  canonicalErrno,
  describeErrno,
  errnoName,
  errnoNumber,
  isErrnoName,
  strerror,
  userErrno,
} from '../../../src/uapi/errno.js';

describe('errno', () => {
  it.each([
    ['EPERM', 1], ['ENOENT', 2], ['ESRCH', 3], ['EINTR', 4], ['EIO', 5], ['ENXIO', 6], ['E2BIG', 7],
    ['EBADF', 9], ['EAGAIN', 11], ['ENOMEM', 12], ['EACCES', 13], ['EFAULT', 14], ['EBUSY', 16],
    ['EEXIST', 17], ['ENODEV', 19], ['EINVAL', 22], ['ENFILE', 23], ['EMFILE', 24], ['ENOTTY', 25],
    ['EFBIG', 27], ['ENOSPC', 28], ['ESPIPE', 29], ['ERANGE', 34], ['EDEADLOCK', 35], ['ENOSYS', 38],
    ['EBADE', 52], ['EOVERFLOW', 75], ['EBADFD', 77], ['EMSGSIZE', 90], ['EOPNOTSUPP', 95], ['EADDRINUSE', 98],
  ] as const)('%s is %i both ways', (name, n) => {
    expect(errnoNumber(name)).toBe(n);
    expect(errnoName(n)).toBe(name);
  });

  it('names 35 EDEADLOCK and accepts EDEADLK too', () => {
    expect(errnoName(35)).toBe('EDEADLOCK');
    expect(errnoNumber('EDEADLK')).toBe(35);
    expect(canonicalErrno('EDEADLK')).toBe('EDEADLOCK');
    expect(canonicalErrno('EDEADLOCK')).toBe('EDEADLOCK');
  });

  it('accepts the other aliases and canonicalises them', () => {
    expect(canonicalErrno('EWOULDBLOCK')).toBe('EAGAIN');
    expect(canonicalErrno('ENOTSUP')).toBe('EOPNOTSUPP');
    expect(isErrnoName('ENOTSUP')).toBe(true);
    expect(isErrnoName('EINVALID')).toBe(false);
    expect(() => canonicalErrno('EINVALID')).toThrow(/unknown errno name 'EINVALID'/);
  });

  it('maps the kernel-internal ENOIOCTLCMD to what user space sees, ENOTTY', () => {
    expect(userErrno('ENOIOCTLCMD')).toBe('ENOTTY');
    expect(userErrno('EDEADLK')).toBe('EDEADLOCK');
    expect(errnoNumber('ENOIOCTLCMD')).toBeUndefined();
    expect(() => userErrno('constructor')).toThrow(/unknown errno name/);
  });

  it('round-trips every number it knows', () => {
    for (let n = 1; n <= 133; n++) {
      const name = errnoName(n);
      if (name) expect(errnoNumber(name)).toBe(n);
    }
    expect(errnoName(41)).toBeUndefined(); // a hole in the Linux table (EWOULDBLOCK's old slot is unused)
    expect(errnoName(0)).toBeUndefined();
  });

  it('gives glibc strerror texts for reports', () => {
    expect(strerror('EFAULT')).toBe('Bad address');
    expect(strerror(25)).toBe('Inappropriate ioctl for device');
    expect(strerror('EDEADLK')).toBe('Resource deadlock avoided');
    expect(strerror(524)).toBe('Unknown error 524');
    expect(describeErrno(14)).toBe('EFAULT (14, Bad address)');
    expect(describeErrno('EOPNOTSUPP')).toBe('EOPNOTSUPP (95, Operation not supported)');
    // a report of a call that should have succeeded once read "errno 0 (0, Unknown error 0)"
    expect(strerror(0)).toBe('Success');
    expect(describeErrno(0)).toBe('0 (Success)');
  });
});
