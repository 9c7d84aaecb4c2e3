/* kvmtest_stats: reads one named counter of a VM or vCPU from KVM's binary statistics (KVM_GET_STATS_FD, Documentation/virt/kvm/api.rst). */
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvmtest.h"

/* The file is a header, then num_desc descriptors of sizeof(desc) + name_size bytes, then the data. */
static int find_stat(int sfd, const char *name, uint64_t *value)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	size_t dsize;
	int found = -1;

	if (pread(sfd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -1;
	dsize = sizeof(*d) + h.name_size;
	d = malloc(dsize);
	if (!d)
		return -1;
	for (uint32_t i = 0; i < h.num_desc && found < 0; i++) {
		if (pread(sfd, d, dsize, h.desc_offset + (off_t)i * dsize) != (ssize_t)dsize)
			break;
		if (strncmp(d->name, name, h.name_size) != 0 || d->size != 1)
			continue;
		if (pread(sfd, value, sizeof(*value), h.data_offset + d->offset) == (ssize_t)sizeof(*value))
			found = 0;
		break;
	}
	free(d);
	return found;
}

int kvm_stat(int fd, const char *name, uint64_t *value)
{
	int sfd = ioctl(fd, KVM_GET_STATS_FD, NULL), r;

	if (sfd < 0)
		return -1;
	r = find_stat(sfd, name, value);
	close(sfd);
	return r;
}
