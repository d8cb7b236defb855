#ifndef ZONEBOOT_BUILD_INFO_H
#define ZONEBOOT_BUILD_INFO_H

/// The git revision the binaries were built from: what `make build`, `make release` and
/// `make package` pass as `-Xcc -DZONEBOOT_GIT_REVISION='"<rev>"'`; "unknown" for a plain
/// `swift build` (from a tarball, say). A C macro because Swift's `-D` takes no values,
/// and nothing is generated or committed for it.
const char *zoneboot_git_revision(void);

#endif
