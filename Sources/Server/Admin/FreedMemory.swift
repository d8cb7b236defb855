#if canImport(Glibc)
import Glibc
#endif

// How a server's zone loads give memory back. glibc keeps freed memory for reuse, per
// thread (an arena each), and a load's parse tree and tables of 200,000 identities are
// freed in pieces it does not return on its own: after a full-zone apply of 10,000 hosts a
// server kept about 154 MB it no longer used.

/// Hands memory freed by a zone load back to the system (after each load, plan or apply).
func releaseFreedMemory() {
    #if canImport(Glibc)
    // Not in Swift's Glibc module (malloc.h): found by name, called where found.
    typealias MallocTrim = @convention(c) (Int) -> Int32
    if let symbol = dlsym(nil, "malloc_trim") { _ = unsafeBitCast(symbol, to: MallocTrim.self)(0) }
    #endif
}

/// Makes every allocation of 1 MiB or more a mapping of its own, unmapped when freed, for
/// the life of the process (called once, at start). glibc otherwise raises that threshold to
/// the size of each large block freed (up to 32 MiB), after which a load's tables come from
/// the allocating thread's arena and stay there: a 100,000-host zone, expanded a part per
/// core, then held what each core's arena freed while the next step allocated anew, and a
/// server's peak across a full-zone apply went from about 375 MiB to 435–490 MiB. With the
/// threshold fixed: 354 MiB, and the same apply times.
public func mapLargeAllocationsApart() {
    #if canImport(Glibc)
    typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    // M_MMAP_THRESHOLD (malloc.h).
    let mmapThreshold: Int32 = -3
    if let symbol = dlsym(nil, "mallopt") { _ = unsafeBitCast(symbol, to: Mallopt.self)(mmapThreshold, 1 << 20) }
    #endif
}
