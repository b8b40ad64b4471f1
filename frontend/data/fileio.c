/* fileio.c — whole-file writes that never leave a half-written file.
 *
 * The data goes to a fresh sibling path.tmp-XXXXXX (mkstemp: same folder, so
 * the final rename() stays on one file system and is atomic), is flushed to
 * the disk, and is renamed over path only when complete. Readers see the old
 * file or the new one, never a prefix; on any failure the temporary is removed.
 */
#include "frontend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int write_file_atomic(const char *path, const void *data, size_t len, Diag *d)
{
	size_t n = strlen(path) + sizeof ".tmp-XXXXXX";
	char *tmp = nnl_malloc(n);
	if (!tmp) {
		diag_add(d, "%s: out of memory", path);
		return -1;
	}
	snprintf(tmp, n, "%s.tmp-XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		diag_add(d, "%s: cannot create a temporary file: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	/* mkstemp makes the file 0600; a written model or output is an ordinary file */
	fchmod(fd, 0644);
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left > ((size_t)1 << 30) ? (size_t)1 << 30 : left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			diag_add(d, "%s: write failed: %s", path, w < 0 ? strerror(errno) : "no progress");
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS) {
		diag_add(d, "%s: write failed: %s", path, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		diag_add(d, "%s: write failed: %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		diag_add(d, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}
