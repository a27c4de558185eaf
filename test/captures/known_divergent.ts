/**
 * Real-kernel captures that do not replay with zero divergence yet, with
 * the reason. The list only shrinks: a listed capture that replays cleanly
 * fails the suite until it is removed from here.
 */
export const KNOWN_DIVERGENT: Record<string, string> = {
  'iommufd.info_cmd': 'VFIO container ioctls not modelled (issue 10)',
  'iommufd.map_cmd': 'VFIO container ioctls not modelled (issue 10)',
  'iommufd.simple_ioctls': 'VFIO container ioctls not modelled (issue 10)',
  'vfio_compat_mock_domain.Ver1v0.get_info': 'VFIO container ioctls not modelled (issue 10)',
  'vfio_compat_mock_domain.Ver1v0.map': 'VFIO container ioctls not modelled (issue 10)',
  'vfio_compat_mock_domain.Ver1v0.option_huge_pages': 'VFIO container ioctls not modelled (issue 10)',
  'vfio_compat_mock_domain.Ver1v0.simple_close': 'VFIO container ioctls not modelled (issue 10)',
  'vfio_compat_mock_domain.Ver1v2.get_info': 'VFIO container ioctls not modelled (issue 10)',
  'vfio_compat_mock_domain.Ver1v2.map': 'VFIO container ioctls not modelled (issue 10)',
  'iommufd_dirty_tracking.domain_dirty128M_huge.get_dirty_bitmap': '1 MiB mock IOPTE dirty granularity (issue 4)',
  'iommufd_dirty_tracking.domain_dirty64M_huge.get_dirty_bitmap': '1 MiB mock IOPTE dirty granularity (issue 4)',
  'iommufd_dirty_tracking.domain_dirty64M_huge.get_dirty_bitmap_no_clear': '1 MiB mock IOPTE dirty granularity (issue 4)',
};
