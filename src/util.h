/* util: small file-system helpers shared by the daemon's modules. */
#ifndef RAFTGRES_UTIL_H
#define RAFTGRES_UTIL_H

#include <sys/types.h>

/* mkdir -p with MODE for every created component. Returns 0 or -1 (errno set). */
int util_mkdir_p(const char *path, mode_t mode);

#endif
