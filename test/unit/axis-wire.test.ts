import { describe, expect, it } from 'vitest';
import { axisGroupPageWire, axisGroupWire, axisUserPageWire, axisUserWire } from '../../src/upstreams/axis/types.js';

const wireUser = {
  id: 7,
  userName: 'ann',
  email: 'ann@example.com',
  firstName: 'Ann',
  lastName: 'Lee',
  enabled: null,
  expiration: '2027-01-02T03:04:05Z',
  groups: [{ id: 'g-1', value: 'admins' }, { id: 2 }, { id: 'g-3', value: '' }],
  hasSshPrivateKey: true,
  extra: 'ignored',
};

const page = (data: unknown[] | null) => ({ pageNumber: 1, pageSize: 50, totalPages: 1, totalRecords: 1, data });

describe('Axis wire bodies: checked in place, mapped once', () => {
  it('a user maps to the domain: string ids, the documented defaults, display names or null', () => {
    const parsed = axisUserWire.safeParse(wireUser);
    expect(parsed).toEqual({
      success: true,
      data: {
        id: '7',
        userName: 'ann',
        email: 'ann@example.com',
        firstName: 'Ann',
        lastName: 'Lee',
        enabled: true,
        expiration: new Date('2027-01-02T03:04:05Z'),
        hasSshPrivateKey: true,
        groups: [
          { id: 'g-1', name: 'admins' },
          { id: '2', name: null },
          { id: 'g-3', name: null },
        ],
      },
    });
    // An empty or missing expiration is "never expires"; missing lists are empty.
    const bare = { ...wireUser, expiration: '', groups: undefined, hasSshPrivateKey: undefined };
    expect(axisUserWire.safeParse(bare)).toMatchObject({
      success: true,
      data: { expiration: null, groups: [], hasSshPrivateKey: false },
    });
  });

  it('a page keeps its envelope; a null data is an empty page', () => {
    expect(axisUserPageWire.safeParse(page([wireUser]))).toMatchObject({
      success: true,
      data: { pageNumber: 1, totalRecords: 1, data: [{ id: '7' }] },
    });
    expect(axisGroupPageWire.safeParse(page(null))).toMatchObject({ success: true, data: { data: [] } });
    expect(axisGroupWire.safeParse({ id: 'g-1', name: 'admins', users: [{ id: 'u-1', value: 'ann' }] })).toEqual({
      success: true,
      data: { id: 'g-1', name: 'admins', description: null, users: [{ id: 'u-1', name: 'ann' }] },
    });
  });

  it('a wrong shape names where, never the value', () => {
    const wrong = axisUserPageWire.safeParse(page([wireUser, { ...wireUser, email: 42 }]));
    expect(wrong).toEqual({ success: false, error: { issues: [{ path: ['data', '1', 'email'], code: 'type' }] } });
    expect(axisUserWire.safeParse({ ...wireUser, id: '' })).toMatchObject({ success: false });
    expect(axisUserWire.safeParse({ ...wireUser, userName: undefined })).toMatchObject({
      success: false,
      error: { issues: [{ path: ['userName'], code: 'required' }] },
    });
    expect(axisUserPageWire.safeParse({ ...page([]), totalRecords: 1.5 })).toMatchObject({ success: false });
    expect(axisUserPageWire.safeParse({ pageNumber: 1, data: [] })).toMatchObject({
      error: { issues: [{ path: ['pageSize'], code: 'required' }] },
    });
    expect(axisGroupWire.safeParse('not an object')).toMatchObject({ success: false });
    expect(JSON.stringify(wrong)).not.toContain('42');
  });

  it('an expiration that is not a date-time is refused where it is', () => {
    expect(axisUserWire.safeParse({ ...wireUser, expiration: 'soon' })).toEqual({
      success: false,
      error: { issues: [expect.objectContaining({ path: ['expiration'], code: 'custom' })] },
    });
    expect(axisUserPageWire.safeParse(page([wireUser, { ...wireUser, expiration: 'soon' }]))).toEqual({
      success: false,
      error: { issues: [expect.objectContaining({ path: ['data', 1, 'expiration'], code: 'custom' })] },
    });
  });
});
