/**
 * Real-kernel captures that do not replay with zero divergence yet, with
 * the reason. The list only shrinks: a listed capture that replays cleanly
 * fails the suite until it is removed from here.
 */
export const KNOWN_DIVERGENT: Record<string, string> = {
  'iommufd_dirty_tracking.domain_dirty128M_huge.get_dirty_bitmap': '1 MiB mock IOPTE dirty granularity (issue 4)',
  'iommufd_dirty_tracking.domain_dirty64M_huge.get_dirty_bitmap': '1 MiB mock IOPTE dirty granularity (issue 4)',
  'iommufd_dirty_tracking.domain_dirty64M_huge.get_dirty_bitmap_no_clear': '1 MiB mock IOPTE dirty granularity (issue 4)',
};
