#include "build_info.h"

#ifndef ZONEBOOT_GIT_REVISION
#define ZONEBOOT_GIT_REVISION "unknown"
#endif

const char *zoneboot_git_revision(void) { return ZONEBOOT_GIT_REVISION; }
